"""One completion request's way past the limits, for every API that completes.

OpenAI's `/v1/completions` and the other dialects (api/dialects/) go through
the same steps: the request is checked against the caps (400), admitted by the
Gate (429/503), given a completion id that `/v1/events` accepts from the same
key, run by the one `CompletionService` with the key as tenant, charged its
real usage, and its `Ticket` is given back however the answer ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from fastapi import Request
from sse_starlette import EventSourceResponse
from starlette.responses import StreamingResponse

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


class _Ticketed:
    """A streaming response that gives its admission ticket back however it ends, even when the
    client leaves before the stream's generator has started (its `finally` would never run)."""

    def __init__(self, ticket, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._ticket = ticket

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._ticket.release()


class TicketedEvents(_Ticketed, EventSourceResponse):
    """Server-sent events (OpenAI, llama.cpp)."""


class TicketedStream(_Ticketed, StreamingResponse):
    """A plain byte stream (Ollama's newline-delimited JSON)."""

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Starlette leaves the body iterator suspended when the client goes: closing it closes
            # the service's stream, which stops the engine.
            await self.body_iterator.aclose()


class Admitted:
    """One admitted completion request. Create it where the request has been
    validated; `complete` or `stream` runs it (once)."""

    def __init__(self, request: Request, body: CompletionRequest, *, dialect: str = "openai") -> None:
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
        self.completion_id = new_completion_id()
        language = body.language or detect_language(None, body.filepath)  # for events that name none
        request.app.state.issued.add(self.completion_id, self.key, language)

    async def complete(self) -> Completion | None:
        """The whole completion; None when the client left first."""
        try:
            return await cancel_on_disconnect(self.request, self.ticket.run(
                self.service.complete(self.body, self.request.state.request_id, completion_id=self.completion_id,
                                      tenant=self.key, on_usage=self.ticket.charge)))
        finally:
            self.ticket.release()

    def stream(self) -> AsyncIterator[dict]:
        """The service's events (OpenAI chunks as `{"data": json}`, ending in `[DONE]`, an error event
        before it when the answer fails or the ticket's deadline passes). Bad input raises here,
        before the first byte."""
        try:
            events = self.service.stream(self.body, self.request.state.request_id,
                                         completion_id=self.completion_id, tenant=self.key,
                                         on_usage=self.ticket.charge)
        except BaseException:
            self.ticket.release()
            raise
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
            self.ticket.release()
