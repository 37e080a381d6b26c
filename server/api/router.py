"""HTTP only: routes, and turning the service's results into responses."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse

from ..lifecycle import SSE_SHUTDOWN_GRACE_S
from ..logs import log_prompt
from ..metrics import CONTENT_TYPE
from .errors import error_response
from .protocol import Completion, CompletionRequest, ErrorResponse, Model, ModelList, new_completion_id
from .session_header import apply_session_header

router = APIRouter()
T = TypeVar("T")

_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 404, 408, 409, 413, 429, 503)}


async def _cancel_on_disconnect(request: Request, work: Awaitable[T]) -> T | None:
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


class _TicketedEvents(EventSourceResponse):
    """An SSE response that gives its admission ticket back however it ends, even when the
    client leaves before the stream's generator has started (its `finally` would never run)."""

    def __init__(self, ticket, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._ticket = ticket

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._ticket.release()


@router.post("/v1/completions", response_model=Completion, responses=_ERRORS,
             summary="Complete code at the cursor (prompt + suffix = fill-in-the-middle)")
async def create_completion(body: CompletionRequest, request: Request):
    service = request.app.state.service
    gate = request.app.state.gate
    request_id = request.state.request_id
    key = getattr(request.state, "key", None) or "anonymous"
    apply_session_header(body, request.headers)
    log_prompt(request.app.state.log_prompts, body)
    gate.check_request(body, service.engine)
    ticket = gate.admit(key, gate.reservation(body, service.engine))  # 429 / 503 before any work
    completion_id = new_completion_id()
    request.app.state.issued.add(completion_id, key)
    if body.stream:
        try:
            events = service.stream(body, request_id, completion_id=completion_id, tenant=key,
                                    on_usage=ticket.charge)  # raises before the first byte on bad input
        except BaseException:
            ticket.release()
            raise

        async def counted():
            try:
                async for event in ticket.stream(events):
                    yield event
            except asyncio.CancelledError:
                request.app.state.metrics.cancelled.inc()
                raise
            finally:
                ticket.release()

        return _TicketedEvents(ticket, counted(), sep="\n", ping=15, shutdown_grace_period=SSE_SHUTDOWN_GRACE_S)
    try:
        completion = await _cancel_on_disconnect(request, ticket.run(
            service.complete(body, request_id, completion_id=completion_id, tenant=key,
                             on_usage=ticket.charge)))
    finally:
        ticket.release()
    if completion is None:
        return Response(status_code=499)  # nginx's "client closed request"; nobody reads it
    return JSONResponse(completion.model_dump(exclude_none=False))


@router.get("/v1/models", response_model=ModelList)
async def list_models(request: Request):
    engine = request.app.state.engine
    names = request.app.state.service.served_names
    if not engine.ready:
        return ModelList(data=[Model(id=n, created=0) for n in names])
    info = engine.info
    return ModelList(data=[Model(id=n, created=info.created, max_model_len=info.n_ctx, fim_family=info.family)
                           for n in names])


@router.get("/health", summary="Alive: answers while the model loads too")
async def health():
    return {"status": "ok"}


@router.get("/ready", summary="Ready: the model is loaded and completions are served",
            responses={503: {"model": ErrorResponse}})
async def ready(request: Request):
    engine = request.app.state.engine
    failure = request.app.state.load_error
    if failure is not None:
        return error_response(503, f"The model failed to load: {failure}", code="model_load_failed")
    if not engine.ready:
        return error_response(503, "The model is still loading.", code="model_loading", headers={"Retry-After": "5"})
    info = engine.info
    return {"status": "ready", "model": info.id, "family": info.family, "n_ctx": info.n_ctx}


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request):
    waiting = request.app.state.service.fair.waiting_by_tenant()
    return Response(request.app.state.metrics.render(waiting), media_type=CONTENT_TYPE)
