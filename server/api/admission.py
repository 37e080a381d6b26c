"""Admitting a request, for every route that runs one on the engine.

`/v1/completions`, the other dialects (api/dialects/) and any other kind of
request go through the same steps: the session header becomes the body's
`user` when it has none, the Gate checks the caps (400) and admits the
request (429/503) by what its handler says it `Asked` for, the answer gets an
id that `/v1/events` accepts from the same key, the handler runs it with the
key as tenant, the ticket is charged the real usage, a client that hangs up
cancels the work, a stream's status and headers wait for its first body (a
request that fails before any text gets its own status, a 503's
`Retry-After` included, as an unstreamed one does), a stream always ends
with `[DONE]` (an error event before it when it fails later), and the
ticket is given back however the answer ends: by the route's
`@admitted_route` (api/router.py), the one place that does it.

    @router.post("/v1/next_edit")
    @admitted_route
    async def next_edit(body: NextEditRequest, request: Request):
        admitted = Admitted(request, body, request.app.state.next_edit, dialect="next_edit")
        return await admitted.stream() if body.stream else await admitted.complete()

The handler's side (`Handler`, `Asked`, `Call`) is server/service/admission.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Generic, TypeVar

from fastapi import Request

from ..logs import log_prompt
from ..metrics import dialect_var
from ..service.admission import Call, Handler
from .protocol import new_completion_id
from .session_header import apply_session_header
from .sse import events

T = TypeVar("T")
Req = TypeVar("Req")
Out = TypeVar("Out")


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


class Admitted(Generic[Req, Out]):
    """One admitted request, `body`, for `handler` (the completions service when none is given).
    Create it in an `@admitted_route` once the body is validated: it raises the APIError that
    answers a request it does not admit. `complete` or `stream` runs it (once)."""

    def __init__(self, request: Request, body: Req, handler: Handler[Req, Out] | None = None, *,
                 dialect: str = "openai") -> None:
        held = getattr(request.state, "admission", None)  # what @admitted_route gives back at the end
        if held is None:
            raise RuntimeError("a route that admits a request needs @admitted_route (api/router.py)")
        dialect_var.set(dialect)
        self.request = request
        self.body = body
        self.handler: Handler[Req, Out] = handler or request.app.state.service
        key = getattr(request.state, "key", None) or "anonymous"
        if hasattr(body, "user"):
            apply_session_header(body, request.headers)
        asked = self.handler.asked(body)
        log_prompt(request.app.state.log_prompts, asked)
        gate, engine = request.app.state.gate, self.handler.engine
        self.ticket = gate.admit(key, gate.weigh(asked, engine))  # 400 / 429 / 503 before any work
        held.callback(self.ticket.release)  # given back when the route's answer ends, however it ends
        answer_id = new_completion_id()
        self.call = Call(getattr(request.state, "request_id", None) or answer_id, answer_id, key, self.ticket.charge)
        request.app.state.issued.add(answer_id, key, asked.language)

    async def complete(self) -> Out | None:
        """The whole answer; None when the client left first."""
        return await cancel_on_disconnect(self.request, self.ticket.run(self.handler.complete(self.body, self.call)))

    async def stream(self) -> AsyncIterator[dict] | None:
        """The handler's bodies as server-sent events (api/sse.py), ending in `[DONE]`, an error event
        before it when the answer fails or the ticket's deadline passes after its first body. Bad input,
        and any failure before the first body, raises here (`_held`); None when the client left first."""
        held = await self._held()
        return None if held is None else self._counted(events(held))

    async def bodies(self) -> AsyncIterator[dict] | None:
        """The handler's bodies as they are, for a dialect that writes its own stream: a failure (the
        ticket's deadline included) is raised. Bad input, and any failure before the first body, raises
        here (`_held`); None when the client left first."""
        held = await self._held()
        return None if held is None else self._counted(held)

    async def _held(self) -> AsyncIterator[dict] | None:
        """The handler's bounded bodies once the first has come, so that the response's status and
        headers wait for it: a request that fails before any text (dropped at its deadline, superseded,
        timed out) is answered with its own status and headers (a 503's Retry-After) rather than a 200
        stream with an error event in it. None, the work stopped, when the client leaves first."""
        bodies = self.ticket.bounded(self.handler.stream(self.body, self.call))
        try:
            first = await cancel_on_disconnect(self.request, anext(bodies, _END))
        except BaseException:
            await bodies.aclose()
            raise
        if first is None:  # the client left
            await bodies.aclose()
            return None
        return _chain(first, bodies)

    async def _counted(self, events: AsyncIterator[dict]) -> AsyncIterator[dict]:
        try:
            async for event in events:
                yield event
        except asyncio.CancelledError:
            self.request.app.state.metrics.cancelled.inc()
            raise
        finally:
            await events.aclose()


_END: dict = {}  # `anext`'s default: bodies that ended before their first


async def _chain(first: dict, rest: AsyncIterator[dict]) -> AsyncIterator[dict]:
    """`first`, then `rest` (none when `first` is `_END`). Closing this closes `rest`."""
    try:
        if first is not _END:
            yield first
            async for body in rest:
                yield body
    finally:
        await rest.aclose()
