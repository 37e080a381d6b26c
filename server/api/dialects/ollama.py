"""Ollama's API: `/api/generate` (with `suffix`), `/api/tags`, `/api/show`, `/api/version`.

What Continue's Ollama autocomplete provider, Twinny, llm.nvim, minuet-ai.nvim
and the `ollama` clients talk to. A generate request becomes a
`CompletionRequest` (prompt = code before the cursor, suffix = code after it)
and goes through the one completion service; the answer is Ollama's: a stream
of newline-delimited JSON objects by default, one object with `stream: false`.
Errors are Ollama's `{"error": "message"}` with the HTTP status.

The model's own prompt layout is codefill's (the family's FIM template), so
`template`, `system`, `raw` and `context` are accepted and ignored; so are
options codefill has no use for (`num_ctx`, `top_k`, `repeat_penalty`, ...).
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import aclosing
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ..admission import Admitted
from ..protocol import DeadlineMs
from ...errors import APIError
from ..errors import register_error_shape
from ..router import admitted_route
from .common import completion_request, engine_ready, pieces, served_model

router = APIRouter(tags=["Ollama"])

# The Ollama API level this adapter follows (`suffix` in /api/generate, `capabilities` in /api/show).
OLLAMA_VERSION = "0.12.0"
_NDJSON = "application/x-ndjson"


def _error_shape(status: int, message: str, param: str | None, code: str | None) -> dict:
    return {"error": message}


register_error_shape("/api/", _error_shape)
_ERRORS = {code: {"description": "Ollama's error: {\"error\": \"message\"}"} for code in (400, 401, 404, 429, 503)}


class GenerateOptions(BaseModel):
    """The model options codefill uses; others are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    num_predict: int | None = Field(default=None, ge=-2)
    """Most tokens to generate; -1 (no limit) and -2 (fill the context) mean the server's default."""
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)

    model: str
    """A model `/api/tags` lists (an Ollama-style `:latest` tag is accepted)."""
    prompt: str = ""
    """The code before the cursor."""
    suffix: str | None = None
    """The code after the cursor: with it the request is fill-in-the-middle."""
    stream: bool = True
    """Newline-delimited JSON objects as the text comes (Ollama's default), or one object."""
    raw: bool = False
    """Accepted; codefill always lays the prompt out in the model's own FIM template."""
    options: GenerateOptions | None = None
    deadline_ms: DeadlineMs | None = None
    """codefill's: milliseconds after which the answer is of no use (`/v1/completions`' field); at the
    top level, beside `keep_alive`: it is about the request, not the model."""


def _created_at() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _to_completion(body: GenerateRequest, model: str):
    o = body.options or GenerateOptions()
    fields = {"model": model, "prompt": body.prompt, "suffix": body.suffix, "stream": body.stream,
              "max_tokens": o.num_predict if o.num_predict is not None and o.num_predict >= 0 else None,
              "temperature": o.temperature, "stop": o.stop or None, "seed": o.seed,
              "deadline_ms": body.deadline_ms}
    if o.top_p is not None:
        fields["top_p"] = o.top_p
    for name in ("presence_penalty", "frequency_penalty"):
        if getattr(o, name) is not None:
            fields[name] = getattr(o, name)
    if body.stream:
        fields["stream_options"] = {"include_usage": True}
    return completion_request(**fields)


def _final(name: str, reason: str | None, usage: dict | None, started: float, first: float | None) -> dict:
    now = time.monotonic()
    first = first or now
    usage = usage or {}
    return {"model": name, "created_at": _created_at(), "response": "", "done": True,
            "done_reason": reason or "stop",
            "total_duration": int((now - started) * 1e9), "load_duration": 0,
            "prompt_eval_count": usage.get("prompt_tokens", 0),
            "prompt_eval_duration": int((first - started) * 1e9),
            "eval_count": usage.get("completion_tokens", 0), "eval_duration": int((now - first) * 1e9)}


@router.post("/api/generate", responses=_ERRORS, summary="Ollama: complete code at the cursor (prompt + suffix)")
@admitted_route
async def generate(body: GenerateRequest, request: Request):
    engine_ready(request)
    model = served_model(request.app.state.service, body.model)
    if not body.prompt and body.suffix is None:  # Ollama's way to load a model: nothing to generate
        return JSONResponse({"model": body.model, "created_at": _created_at(), "response": "", "done": True,
                             "done_reason": "load"})
    req = _to_completion(body, model)
    started = time.monotonic()
    admitted = Admitted(request, req, dialect="ollama")
    if not body.stream:
        completion = await admitted.complete()
        if completion is None:
            return None  # the client left
        choice = completion.choices[0]
        usage = completion.usage.model_dump() if completion.usage else None
        out = _final(body.model, choice.finish_reason, usage, started, None)
        out["response"] = choice.text
        return out
    events = await admitted.bodies()  # a failure before the first body raises: its status and headers
    if events is None:
        return None  # the client left

    async def lines():
        reason, usage, first = None, None, None
        async with aclosing(pieces(events)) as stream:  # a client that leaves stops the engine
            async for piece in stream:
                if piece.error:
                    yield json.dumps({"error": piece.error}) + "\n"
                    return
                if piece.usage:
                    usage = piece.usage
                if piece.finish_reason:
                    reason = piece.finish_reason
                if piece.text:
                    first = first or time.monotonic()
                    yield json.dumps({"model": body.model, "created_at": _created_at(), "response": piece.text,
                                      "done": False}, ensure_ascii=False) + "\n"
        yield json.dumps(_final(body.model, reason, usage, started, first)) + "\n"

    return StreamingResponse(lines(), media_type=_NDJSON)


def _details(info) -> dict:
    family = info.architecture or "unknown"
    return {"parent_model": "", "format": "gguf" if str(info.path).endswith(".gguf") else "",
            "family": family, "families": [family], "parameter_size": "", "quantization_level": ""}


def _digest(name: str) -> str:
    """A stable identifier for the served name (Ollama's is its weights' hash; codefill does not
    hash the weights to answer a listing)."""
    return hashlib.sha256(name.encode()).hexdigest()


@router.get("/api/tags", summary="Ollama: the models this server serves")
async def tags(request: Request):
    engine = request.app.state.engine
    names = request.app.state.service.served_names
    models = []
    for name in names:
        entry = {"name": f"{name}:latest", "model": f"{name}:latest", "modified_at": _created_at(), "size": 0,
                 "digest": _digest(name)}
        if engine.ready:
            entry["details"] = _details(engine.info)
        models.append(entry)
    return {"models": models}


class ShowRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str | None = None
    name: str | None = None
    """The older spelling of `model`."""


@router.post("/api/show", responses=_ERRORS, summary="Ollama: what a model is and what it can do")
async def show(body: ShowRequest, request: Request):
    engine_ready(request)
    name = body.model or body.name
    if not name:
        raise APIError(400, "model is required", param="model")
    served_model(request.app.state.service, name)
    info = request.app.state.engine.info
    arch = info.architecture or "unknown"
    return {"modelfile": "", "parameters": "",
            "template": "{{- if .Suffix }}{{ .Prompt }}<fill>{{ .Suffix }}{{ else }}{{ .Prompt }}{{ end }}",
            "details": _details(info),
            "model_info": {"general.architecture": arch, f"{arch}.context_length": info.n_ctx},
            "capabilities": ["completion", "insert"], "modified_at": _created_at()}


@router.get("/api/version", summary="Ollama: the API version")
async def version():
    return {"version": OLLAMA_VERSION}

