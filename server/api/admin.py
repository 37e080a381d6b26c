"""The admin API (`--admin-key`): cache statistics per tenant and engine, and
dropping a tenant's or a session's cached state.

Only the admin key opens it (`Authorization: Bearer ADMIN_KEY`), checked by
ApiKeyAuth (auth.py) before any body is read: tenants' keys get 403, no key
401, and without `--admin-key` it answers 403 to everyone.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from ..auth import OPEN_NAME
from ..tenants import session_key
from ..errors import APIError
from .protocol import ErrorResponse

router = APIRouter(prefix="/admin")
_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 403, 503)}


class TenantUsage(BaseModel):
    completions: int = Field(description="completions that reached the engine (typed-through answers included)")
    unfinished: int = Field(description="of them, cancelled, superseded or timed out")
    prompt_tokens: int
    cached_tokens: int = Field(description="prompt tokens reused from the KV / prefix cache")
    completion_tokens: int
    cache_hit_ratio: float | None = Field(description="cached_tokens / prompt_tokens; null before any prompt")
    waiting: int = Field(description="requests waiting for the engine now (fair queue)")


class CacheStats(BaseModel):
    object: Literal["cache.stats"] = "cache.stats"
    tenants: dict[str, TenantUsage]
    engine: dict | None = Field(description="the engine's own cache figures, where it has any")
    remembered_answers: int = Field(description="sessions whose last answer is kept for typing-through")


class DropRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(min_length=1, max_length=64, description="an API key's name ('anonymous' in open mode)")
    user: str | None = Field(None, max_length=256, description="a session (the `user` its client sends); "
                                                               "none: all of the tenant's cached state")


class DropResult(BaseModel):
    object: Literal["cache.drop"] = "cache.drop"
    tenant: str
    user: str | None
    engine_states: int | None = Field(description="KV states the engine dropped; null where the engine "
                                                  "cannot drop selectively")
    remembered_answers: int


@router.get("/cache", response_model=CacheStats, responses=_ERRORS,
            summary="Admin: prompt-cache figures per tenant and the engine's cache")
async def cache_stats(request: Request) -> CacheStats:
    service = request.app.state.service
    waiting = service.fair.waiting_by_tenant()
    tenants = {}
    for name, t in request.app.state.metrics.tenants.items():
        ratio = t["cached_tokens"] / t["prompt_tokens"] if t["prompt_tokens"] else None
        tenants[name] = TenantUsage(**t, cache_hit_ratio=ratio, waiting=waiting.get(name, 0))
    stats = getattr(service.engine, "cache_stats", None)
    return CacheStats(tenants=tenants, engine=stats() if stats is not None and service.engine.ready else None,
                      remembered_answers=len(service.answers))


@router.post("/cache/drop", response_model=DropResult, responses=_ERRORS,
             summary="Admin: forget a tenant's (or one of its sessions') cached state")
async def drop_cache(body: DropRequest, request: Request) -> DropResult:
    service = request.app.state.service
    engine = service.engine
    if body.user is not None:
        session = session_key(body.tenant, body.user)
        answers = service.answers.forget(session=session)
        service.cold_starts.forget(session=session)
        what = {"session": session}
    else:
        prefix = session_key(body.tenant, "")
        answers = service.answers.forget(session_prefix=prefix)
        service.cold_starts.forget(session_prefix=prefix)
        # With --share-cache, the tenant's salt is its group's: the group's shared state goes too.
        what = {"salt": service.tenants.salt_of(body.tenant or OPEN_NAME)}
        service.forget_tokens(what["salt"])  # the lines its prompts were tokenized from (prompt/tokens.py)
    dropped = None
    drop = getattr(engine, "drop_cache", None)
    if drop is not None:
        if not engine.ready:
            raise APIError(503, "The model is still loading.", code="model_loading", headers={"Retry-After": "5"})
        dropped = await drop(**what)
    return DropResult(tenant=body.tenant, user=body.user, engine_states=dropped, remembered_answers=answers)
