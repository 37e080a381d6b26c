"""The FastAPI application: wiring of engine, service, middleware and routes.

The model loads in the background after the server starts, so `/health`
answers at once and `/ready` and `/v1/completions` say 503 until it is in.

Middleware, outermost first: `RequestContext` (request id, access line,
logs.py), CORS (only with `--cors-origin`), `RequestMetrics`, `ApiKeyAuth`
(401 before any body is read; the key's name into `scope["state"]["key"]`),
`BodySizeLimit` (413 past `--max-body-bytes`), `JsonBodies` (dialects' bodies
read as JSON whatever their Content-Type), `TabbyCompletions`. Then FastAPI
validates the body (a 400 naming the parameter, api/errors.py) and the route
runs. create_app takes the settings' typed groups (settings.py
`server_settings` builds them from codefill/config.py's `Settings`); the
engine comes from engines/factory.py `build_engine`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from .api.admin import router as admin_router
from .api.dialects import JsonBodies, include_dialects
from .api.dialects.tabby import TabbyCompletions
from .api.errors import error_body_for, install_error_handlers
from .api.feedback import Issued
from .api.feedback import router as feedback_router
from .api.next_edit import router as next_edit_router
from .api.render import router as render_router
from .api.router import router
from .auth import ApiKeyAuth, KeyStore
from .engines.base import Engine
from .limits import Gate, LimitSettings
from .logs import RequestContext
from .metrics import Metrics
from .nextedit.service import NextEditService, NextEditSettings
from .playground import mount_playground
from .prompt import PromptSettings
from .service.serving import CompletionService, CompletionSettings
from .settings import HttpSettings
from .tenants import TenantSettings

log = logging.getLogger("codefill.server")


class BodySizeLimit:
    """413 for request bodies over `max_bytes`, counted as they arrive (a
    missing or false Content-Length does not get past it). The body is read
    here, up to the limit, and handed on as one message."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._reject(send, scope["path"])
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before sending its body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await self._reject(send, scope["path"])
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send, path: str) -> None:
        message = f"The request body is larger than the limit of {self.max_bytes} bytes."
        body = json.dumps(error_body_for(path, 413, message, code="request_too_large")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class RequestMetrics:
    """Counts requests by route, status and key name, times them, and counts how many are in flight.

    The label is the route's path, also for requests refused before routing
    (a missing key is 401 for /v1/completions too, counted under it); a path
    the API's OpenAPI description does not list is "other", so arbitrary URLs
    cannot make unbounded label values."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._paths: frozenset[str] | None = None

    def _endpoint(self, scope) -> str:
        route = scope.get("route")
        if route is not None:
            return getattr(route, "path", "other")
        if self._paths is None:  # the API's paths, from its own OpenAPI description (built once)
            api = scope.get("app")
            self._paths = frozenset(api.openapi().get("paths", {})) if hasattr(api, "openapi") else frozenset()
        return scope["path"] if scope["path"] in self._paths else "other"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = 500
        responded = left = False

        async def send_status(message):
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
            await send(message)

        async def receive_watched():
            nonlocal left
            message = await receive()
            left = left or message["type"] == "http.disconnect"
            return message

        self.metrics.in_flight.inc()
        started = time.monotonic()
        try:
            await self.app(scope, receive_watched, send_status)
            if not responded and left:  # the client left before any answer (an SSE stream that never began)
                status = 499
        except asyncio.CancelledError:
            if not responded:  # cancelled before any answer: the client left (or the server stops), not a 500
                status = 499
            raise
        finally:
            self.metrics.in_flight.dec()
            endpoint = self._endpoint(scope)
            key = scope.get("state", {}).get("key") or "unauthenticated"
            self.metrics.requests.labels(endpoint, str(status), key).inc()
            self.metrics.request_seconds.labels(endpoint).observe(time.monotonic() - started)


def create_app(engine: Engine, *, served_names: list[str], keys: KeyStore | None = None,
               http: HttpSettings | None = None, completions: CompletionSettings | None = None,
               prompt: PromptSettings | None = None, limits: LimitSettings | None = None,
               tenants: TenantSettings | None = None, next_edit: NextEditSettings | None = None) -> FastAPI:
    """The app around `engine`, with the settings' groups (settings.py); a group not given has the
    settings' defaults. No keys: open mode."""
    http = http or HttpSettings()
    metrics = Metrics()
    metrics.watch_engine(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async def load() -> None:
            try:
                await engine.start()
                log.info("ready: serving %s", ", ".join(served_names))
            except Exception as exc:
                app.state.load_error = str(exc)
                log.error("the model failed to load: %s", exc)

        loading = asyncio.create_task(load())
        try:
            yield
        finally:
            loading.cancel()
            await engine.close()

    app = FastAPI(
        title="codefill",
        summary="OpenAI-compatible code completion: prompt + suffix = fill-in-the-middle",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.metrics = metrics
    app.state.load_error = None
    app.state.service = CompletionService(engine, served_names=served_names, metrics=metrics, settings=completions,
                                          prompt=prompt, tenants=tenants)
    app.state.next_edit = NextEditService(engine, served_names=served_names, metrics=metrics,
                                          fair=app.state.service, tenants=app.state.service.tenants, settings=next_edit)
    app.state.gate = Gate(limits or LimitSettings(), metrics)
    app.state.issued = Issued(metrics)
    app.state.log_prompts = http.log_prompts
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(feedback_router)
    app.include_router(admin_router)
    app.include_router(render_router)
    app.include_router(next_edit_router)
    include_dialects(app)
    # Outermost last: request id, CORS, metrics, key check, then the body limit (no body is read for a bad key),
    # then Tabby's completions told apart from OpenAI's by their body, and Ollama's and llama.cpp's
    # bodies read as JSON whatever their Content-Type.
    app.add_middleware(TabbyCompletions)
    app.add_middleware(JsonBodies)
    app.add_middleware(BodySizeLimit, max_bytes=http.max_body_bytes)
    tenants = app.state.service.tenants
    app.add_middleware(ApiKeyAuth, keys=keys or KeyStore(),
                       is_admin=tenants.is_admin if tenants.admin_digest is not None else None)
    app.add_middleware(RequestMetrics, metrics=metrics)
    if http.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(http.cors_origins), allow_methods=["GET", "POST", "OPTIONS"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
                           expose_headers=["X-Request-Id", "Retry-After"], max_age=600)
    app.add_middleware(RequestContext)
    mount_playground(app)
    return app
