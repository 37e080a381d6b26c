"""The other APIs editor plugins speak, each a thin adapter over the one completion service.

- `ollama`: Ollama's `/api/generate`, `/api/tags`, `/api/show`, `/api/version`
- `llamacpp`: llama.cpp server's `/infill` and `/props`
- `tabby`: Tabby's `/v1/health`, `/v1beta/server_setting`, completions with `segments`, events

Each maps its request to a `CompletionRequest`, goes through `Admitted`
(api/admission.py) like `/v1/completions`, and answers in its own wire format
and error shape. Completions are counted by dialect
(`codefill_completions_total{dialect=...}`, from a context variable set at
admission).

Streams come from `Admitted.bodies` as OpenAI chunks (dicts; a failure is
raised); `common.pieces` reads them as text, finish reason, usage or error,
and the dialect writes its wire format (Ollama: NDJSON; llama.cpp: events
through api/sse.py, ending with `stop: true`). What a dialect adds on top is applied to the
service's output (llama.cpp's `n_indent`, `t_max_predict_ms`). Errors take the
dialect's shape by path prefix (`errors.register_error_shape`), the
middleware's 401s and 413s too. Tabby posts to `/v1/completions` as well:
`tabby.TabbyCompletions` routes its bodies to a path of their own.
"""

from __future__ import annotations

from fastapi import FastAPI

from . import llamacpp, ollama, tabby


class JsonBodies:
    """ASGI middleware: Ollama and llama.cpp take a JSON body whatever its Content-Type says (plugins
    built on `curl -d` send `application/x-www-form-urlencoded` or none), so their routes read it as JSON."""

    PATHS = ("/api/", "/infill")

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith(self.PATHS):
            headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-type"]
            scope["headers"] = [*headers, (b"content-type", b"application/json")]
        await self.app(scope, receive, send)


def include_dialects(app: FastAPI) -> None:
    """The dialects' routes. `tabby.TabbyCompletions` is middleware: add it inside the body limit."""
    for module in (ollama, llamacpp, tabby):
        app.include_router(module.router)
