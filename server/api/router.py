"""HTTP only: routes, and turning the service's results into responses.

`admitted_route` is how every route that admits a request (`Admitted`,
api/admission.py: completions here and in api/dialects/, any other kind)
answers: it turns what the route returns into JSON or a stream, and gives
the request's admission ticket back, in one place, however the answer ends.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import ExitStack
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sse_starlette import EventSourceResponse
from starlette.responses import StreamingResponse

from ..metrics import CONTENT_TYPE
from . import sse
from .admission import Admitted
from .errors import error_response
from .protocol import Completion, CompletionRequest, ErrorResponse, Model, ModelList

router = APIRouter()

_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 404, 408, 409, 413, 429, 503)}


def admitted_route(endpoint: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Response]]:
    """For a route that admits a request (`Admitted`, api/admission.py), which takes `request`.
    What it returns becomes the response (`answer`). The admission ticket is given back here, however
    the answer ends (like vLLM's `load_aware_call`): when the route raises, when it returns a whole
    answer (before it is sent), when a streamed answer's body ends, or when sending it stops (a
    client that leaves before the stream's generator started, a send that fails)."""

    @functools.wraps(endpoint)
    async def route(*args, **kwargs) -> Response:
        request: Request = kwargs["request"]
        with ExitStack() as held:
            request.state.admission = held  # Admitted puts its ticket's release here
            response = answer(await endpoint(*args, **kwargs))
            if isinstance(response, (StreamingResponse, EventSourceResponse)):
                return _Streamed(response, held.pop_all())  # the stream holds the ticket until it ends
            return response

    return route


def answer(result: Any) -> Response:
    """A route's result as a response: a Response as it is; None (the client left first) 499, nginx's
    "client closed request" (nobody reads it); a model or dict JSON; events (`{"data": ...}`) SSE."""
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status_code=499)
    if isinstance(result, BaseModel):
        return JSONResponse(result.model_dump(exclude_none=False))
    if isinstance(result, dict):
        return JSONResponse(result)
    return sse.response(result)


class _Streamed(Response):
    """A streaming response that ends `held` (the ticket) when its body ends, or else when the
    response ends, whatever way: its body's `finally` never runs when the client leaves before the
    stream's generator has started. A Response (FastAPI sends it as it is) around the real one."""

    def __init__(self, response: StreamingResponse | EventSourceResponse, held: ExitStack) -> None:
        self.response = response
        self.held = held
        response.body_iterator = self._body(response.body_iterator)

    def __getattr__(self, name: str):  # status_code, headers, ...: the real response's
        if name == "response":
            raise AttributeError(name)
        return getattr(self.response, name)

    @property
    def background(self):
        return self.response.background

    @background.setter
    def background(self, tasks) -> None:
        self.response.background = tasks

    async def _body(self, body: AsyncIterator) -> AsyncIterator:
        try:
            async for chunk in body:
                yield chunk
        finally:
            try:
                await body.aclose()
            finally:
                self.held.close()

    async def __call__(self, scope, receive, send) -> None:
        try:
            await self.response(scope, receive, send)
        finally:
            try:
                # Starlette leaves the body iterator suspended when the client goes: closing it closes
                # the service's stream, which stops the engine.
                await self.response.body_iterator.aclose()
            finally:
                self.held.close()


@router.post("/v1/completions", response_model=Completion, responses=_ERRORS,
             summary="Complete code at the cursor (prompt + suffix = fill-in-the-middle)")
@admitted_route
async def create_completion(body: CompletionRequest, request: Request):
    admitted = Admitted(request, body)
    return await admitted.stream() if body.stream else await admitted.complete()


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
