"""One completion request's way past the limits, for every API that completes.

OpenAI's `/v1/completions` and the other dialects (api/dialects/) go through
the same steps: the request is checked against the caps (400), admitted by the
Gate (429/503), given a completion id that `/v1/events` accepts from the same
key, run by the one `CompletionService` with the key as tenant, charged its
real usage, and its `Ticket` is given back however the answer ends: by the
route's `@completion_route` (api/router.py), the one place that does it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from fastapi import Request

from ..languages import detect_language
from ..logs import log_prompt
from ..metrics import dialect_var
from .protocol import Completion, CompletionRequest, new_completion_id
from .session_header import apply_session_header
from .sse import ending

T = TypeVar("T")


async def cancel_on_disconnect(request: Request, work: Awaitable[T]) -> T | None:
    """Run `work`, cancelling it if the client hangs up before it is done
    (then None: there is nobody to answer)."""
    task = asyncio.ensure_future(work)
    left = asyncio.Event()

    async def watch() -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                left.set()
                task.cancel()
                request.app.state.metrics.cancelled.inc()
                return

    watcher = asyncio.create_task(watch())
    try:
        return await task
    except asyncio.CancelledError:
        if left.is_set():
            return None
        raise
    finally:
        watcher.cancel()


class Admitted:
    """One admitted completion request. Create it where the request has been
    validated; `complete` or `stream` runs it (once)."""

    def __init__(self, request: Request, body: CompletionRequest, *, dialect: str = "openai") -> None:
        held = getattr(request.state, "admission", None)  # what @completion_route gives back at the end
        if held is None:
            raise RuntimeError("a route that admits a completion needs @completion_route (api/router.py)")
        dialect_var.set(dialect)
        self.request = request
        self.body = body
        self.service = request.app.state.service
        self.key = getattr(request.state, "key", None) or "anonymous"
        apply_session_header(body, request.headers)
        log_prompt(request.app.state.log_prompts, body)
        gate = request.app.state.gate
        gate.check_request(body, self.service.engine)
        self.ticket = gate.admit(self.key, gate.reservation(body, self.service.engine))  # 429 / 503 before any work
        held.callback(self.ticket.release)  # given back when the route's answer ends, however it ends
        self.completion_id = new_completion_id()
        language = body.language or detect_language(None, body.filepath)  # for events that name none
        request.app.state.issued.add(self.completion_id, self.key, language)

    async def complete(self) -> Completion | None:
        """The whole completion; None when the client left first."""
        return await cancel_on_disconnect(self.request, self.ticket.run(
            self.service.complete(self.body, self.request.state.request_id, completion_id=self.completion_id,
                                  tenant=self.key, on_usage=self.ticket.charge)))

    def stream(self) -> AsyncIterator[dict]:
        """The service's events (OpenAI chunks as `{"data": json}`, ending in `[DONE]`, an error event
        before it when the answer fails or the ticket's deadline passes). Bad input raises here,
        before the first byte."""
        events = self.service.stream(self.body, self.request.state.request_id, completion_id=self.completion_id,
                                     tenant=self.key, on_usage=self.ticket.charge)
        return self._counted(ending(self.ticket.bounded(events)))

    async def _counted(self, events: AsyncIterator[dict]) -> AsyncIterator[dict]:
        try:
            async for event in events:
                yield event
        except asyncio.CancelledError:
            self.request.app.state.metrics.cancelled.inc()
            raise
        finally:
            await events.aclose()
