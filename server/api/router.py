"""HTTP only: routes, and turning the service's results into responses."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ..lifecycle import SSE_SHUTDOWN_GRACE_S
from ..metrics import CONTENT_TYPE
from .admission import Admitted, TicketedEvents
from .errors import error_response
from .protocol import Completion, CompletionRequest, ErrorResponse, Model, ModelList

router = APIRouter()

_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 404, 408, 409, 413, 429, 503)}


@router.post("/v1/completions", response_model=Completion, responses=_ERRORS,
             summary="Complete code at the cursor (prompt + suffix = fill-in-the-middle)")
async def create_completion(body: CompletionRequest, request: Request):
    admitted = Admitted(request, body)
    if body.stream:
        return TicketedEvents(admitted.ticket, admitted.stream(), sep="\n", ping=15,
                              shutdown_grace_period=SSE_SHUTDOWN_GRACE_S)
    completion = await admitted.complete()
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
