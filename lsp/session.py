"""One editor session: at most one request to the server at a time.

A newer completion request (or a pre-warm on textDocument/didOpen) makes the
older one pointless: the user has typed on. So it cancels the older call,
which closes its HTTP connection, which makes the server stop generating for
it. The superseded LSP request is answered with an empty result, not an error:
for the editor nothing went wrong. A $/cancelRequest from the editor cancels
the handler's task, and with it the call it is waiting for.

Completions and next edits (textDocument/copilotInlineEdit) are two lanes: a
newer request supersedes the older one of its own lane only, as the server
does (a next edit does not cancel the completion the editor is waiting for).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger("codefill.lsp.session")

T = TypeVar("T")


class Session:
    def __init__(self) -> None:
        # The server's `user` field: one id for everything this editor asks.
        self.id = f"codefill-lsp-{uuid.uuid4().hex[:12]}"
        self._current: dict[str, asyncio.Task] = {}
        self.superseded = 0

    async def latest(self, work: Callable[[], Awaitable[T]], *, debounce_s: float = 0.0,
                     lane: str = "completion") -> T | None:
        """Run `work()` as this session's one call in `lane`; None if a newer
        call in that lane replaced it first."""
        previous = self._current.get(lane)
        if previous is not None and not previous.done():
            previous.cancel()
            self.superseded += 1
            log.debug("a newer request supersedes the one in flight")

        async def run() -> T:
            if debounce_s > 0:
                await asyncio.sleep(debounce_s)
            return await work()

        task = asyncio.create_task(run())
        self._current[lane] = task
        try:
            return await task
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if me is not None and me.cancelling():
                raise  # the editor cancelled this request: pygls answers RequestCancelled
            return None  # superseded
        finally:
            if self._current.get(lane) is task:
                del self._current[lane]

    def cancel(self, lane: str | None = None) -> None:
        """Cancel the call in flight in `lane`, or in every lane."""
        for name, task in list(self._current.items()):
            if lane in (None, name) and not task.done():
                task.cancel()
