"""llama.cpp server's API: `POST /infill` and `GET /props`, what llama.vscode and llama.vim talk to.

`/infill` takes `input_prefix`, `prompt` (the cursor line so far; llama.cpp
puts it after the prefix), `input_suffix` and `input_extra` (other files'
chunks, codefill's own `input_extra`), and the sampling options llama.cpp
takes: `n_predict`, `temperature`, `top_p`, `stop`, `seed`, `stream`, plus
`n_indent` (the answer ends at a line indented less) and `t_max_predict_ms`
(generation stops once it has written a line end and run this long).
`top_k`, `min_p`, `samplers`, `cache_prompt` (codefill always reuses its KV
cache), `t_max_prompt_ms`, `id_slot`, `lora` and the like are accepted and
ignored. The answer has llama.cpp's fields (`content`, `stop`, `stop_type`,
`tokens_predicted`, `tokens_evaluated`, `tokens_cached`, `timings`, ...);
`stream: true` sends them as server-sent events, the last with `stop: true`.
Errors are llama.cpp's `{"error": {"code", "message", "type"}}`.

`/health` stays codefill's own (200 while the model loads); `/ready` says
when completions are served.
"""

from __future__ import annotations

import json
import time
from contextlib import aclosing

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..admission import Admitted, cancel_on_disconnect
from ..protocol import DeadlineMs
from ...errors import error_type
from ..errors import register_error_shape
from ..router import admitted_route
from ..sse import event
from .common import completion_request, engine_ready, pieces, served_model

router = APIRouter(tags=["llama.cpp"])

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 500: "server_error", 501: "not_supported_error", 503: "unavailable_error"}


def _error_shape(status: int, message: str, param: str | None, code: str | None) -> dict:
    return {"error": {"code": status, "message": message, "type": _TYPES.get(status, error_type(status))}}


for _path in ("/infill", "/props"):
    register_error_shape(_path, _error_shape)
_ERRORS = {code: {"description": "llama.cpp's error: {\"error\": {\"code\", \"message\", \"type\"}}"}
           for code in (400, 401, 404, 429, 503)}


class ExtraChunk(BaseModel):
    """A chunk of `input_extra`; llama.vscode also sends `time`, which is ignored."""

    model_config = ConfigDict(extra="allow")

    filename: str = Field(default="extra", max_length=1024)
    text: str = ""


class InfillRequest(BaseModel):
    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)

    input_prefix: str = ""
    """The code before the cursor's line (llama.vscode) or before the cursor."""
    input_suffix: str = ""
    """The code after the cursor."""
    input_extra: list[ExtraChunk] | None = None
    """Chunks of other files: `[{"filename", "text"}]`."""
    prompt: str = ""
    """Text added after `input_prefix` (llama.vscode: the cursor's line up to the cursor)."""
    model: str | None = None
    n_predict: int = Field(default=-1, ge=-1)
    """Most tokens to generate; -1 means the server's default."""
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: list[str] | None = None
    seed: int | None = None
    stream: bool = False
    n_indent: int = Field(default=0, ge=0)
    """End the answer before the first line (after its first) indented by fewer whitespace characters."""
    t_max_predict_ms: int = Field(default=0, ge=0)
    """Stop generating after this long (from the first token) once a line end has been generated."""
    deadline_ms: DeadlineMs | None = None
    """codefill's: milliseconds after which the answer is of no use (`/v1/completions`' field)."""


class IndentFloor:
    """llama.cpp's `n_indent`: the answer ends before a line, after its first, whose code starts at
    fewer than `n` whitespace characters. Holds back a new line's indentation until its code starts."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.held: str | None = None  # "\n" + whitespace of a line not judged yet
        self.done = False

    def push(self, text: str) -> str:
        if self.n <= 0 or self.done:
            return "" if self.done else text
        out = []
        for ch in text:
            if self.held is None:
                if ch == "\n":
                    self.held = ch
                else:
                    out.append(ch)
            elif ch in " \t":
                self.held += ch
            elif ch in "\r\n":
                out.append(self.held)  # a blank line says nothing about indentation
                self.held = ch if ch == "\n" else None
                if ch == "\r":
                    out.append(ch)
            elif len(self.held) - 1 < self.n:
                self.done = True
                self.held = None
                break
            else:
                out.append(self.held + ch)
                self.held = None
        return "".join(out)

    def finish(self) -> str:
        held, self.held = self.held, None
        return held or ""


def _to_completion(body: InfillRequest, model: str):
    extra = [{"filename": c.filename or "extra", "text": c.text} for c in body.input_extra or ()]
    fields = {"model": model, "prompt": body.input_prefix + body.prompt, "suffix": body.input_suffix,
              "max_tokens": body.n_predict if body.n_predict >= 0 else None, "temperature": body.temperature,
              "stop": body.stop or None, "seed": body.seed, "input_extra": extra or None, "stream": True,
              "stream_options": {"include_usage": True}, "deadline_ms": body.deadline_ms}
    if body.top_p is not None:
        fields["top_p"] = body.top_p
    return completion_request(**fields)


class _Answer:
    """The answer as llama.cpp words it, built up as the text comes."""

    def __init__(self, body: InfillRequest, model: str) -> None:
        self.body = body
        self.model = model
        self.started = time.monotonic()
        self.first: float | None = None
        self.content: list[str] = []
        self.stop_type = "none"
        self.usage: dict = {}
        self.floor = IndentFloor(body.n_indent)

    def add(self, text: str) -> str:
        text = self.floor.push(text)
        if text and self.first is None:
            self.first = time.monotonic()
        self.content.append(text)
        if self.floor.done:
            self.stop_type = "limit"
        return text

    def out_of_time(self) -> bool:
        limit = self.body.t_max_predict_ms
        return (limit > 0 and self.first is not None and "\n" in "".join(self.content)
                and (time.monotonic() - self.first) * 1000 > limit)

    def final(self) -> dict:
        now = time.monotonic()
        first = self.first or now
        prompt_n = self.usage.get("prompt_tokens", 0)
        cached = (self.usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
        predicted_n = self.usage.get("completion_tokens", 0)
        prompt_ms = (first - self.started) * 1000
        predicted_ms = (now - first) * 1000
        content = "".join(self.content)
        return {
            "index": 0, "content": content, "tokens": [], "id_slot": 0, "stop": True, "model": self.model,
            "tokens_predicted": predicted_n, "tokens_evaluated": prompt_n,
            "generation_settings": {"n_predict": self.body.n_predict, "n_indent": self.body.n_indent,
                                    "t_max_predict_ms": self.body.t_max_predict_ms},
            "has_new_line": "\n" in content, "truncated": False, "stop_type": self.stop_type, "stopping_word": "",
            "tokens_cached": prompt_n + predicted_n,
            "timings": {"cache_n": cached, "prompt_n": prompt_n - cached, "prompt_ms": round(prompt_ms, 3),
                        "prompt_per_token_ms": _per(prompt_ms, prompt_n - cached),
                        "prompt_per_second": _rate(prompt_n - cached, prompt_ms),
                        "predicted_n": predicted_n, "predicted_ms": round(predicted_ms, 3),
                        "predicted_per_token_ms": _per(predicted_ms, predicted_n),
                        "predicted_per_second": _rate(predicted_n, predicted_ms)},
        }


def _per(ms: float, n: int) -> float:
    return round(ms / n, 3) if n else 0.0


def _rate(n: int, ms: float) -> float:
    return round(n * 1000 / ms, 3) if ms > 0 else 0.0


async def _run(answer: _Answer, events):
    """Feed the service's pieces into `answer`, yielding each new text; an error message ends it."""
    async with aclosing(pieces(events)) as stream:
        async for piece in stream:
            if piece.error:
                yield piece, True
                return
            if piece.usage:
                answer.usage = piece.usage
            if piece.finish_reason and answer.stop_type == "none":
                answer.stop_type = "limit" if piece.finish_reason == "length" else "eos"
            text = answer.add(piece.text) if piece.text else ""
            if text:
                yield text, False
            if answer.floor.done:
                return
            if answer.out_of_time():
                answer.stop_type = "limit"
                return
    tail = answer.add(answer.floor.finish())
    if tail:
        yield tail, False


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(_error_shape(status, message, None, None), status_code=status)


@router.post("/infill", responses=_ERRORS, summary="llama.cpp: fill in the code between prefix and suffix")
@admitted_route
async def infill(body: InfillRequest, request: Request):
    engine_ready(request)
    model = served_model(request.app.state.service, body.model)
    answer = _Answer(body, model)
    admitted = Admitted(request, _to_completion(body, model), dialect="llamacpp")
    events = await admitted.bodies()  # a failure before the first body raises: its status and headers
    if events is None:
        return None  # the client left
    if not body.stream:
        async def collect():
            async for piece, failed in _run(answer, events):
                if failed:
                    return piece
            return None

        try:
            failure = await cancel_on_disconnect(request, collect())
        finally:
            await events.aclose()
        if failure is not None:
            return _error(failure.status, failure.error)
        if not await request.is_disconnected():
            return answer.final()
        return None  # the client left

    async def sse():
        async for text, failed in _run(answer, events):
            if failed:
                yield event(_error_shape(text.status, text.error, None, None))
                return
            yield event({"index": 0, "content": text, "tokens": [], "stop": False, "id_slot": 0,
                         "tokens_predicted": 0, "tokens_evaluated": 0})
        final = answer.final()
        final["content"] = ""
        yield event(final)

    return sse()


@router.get("/props", summary="llama.cpp: the server's settings")
async def props(request: Request):
    engine = request.app.state.engine
    service = request.app.state.service
    n_ctx = engine.info.n_ctx if engine.ready else 0
    params = {"n_predict": -1, "temperature": service.settings.default_temperature, "top_p": 1.0, "n_indent": 0,
              "t_max_predict_ms": 0}
    return {"default_generation_settings": {"n_ctx": n_ctx, "model": service.served_names[0], "params": params},
            "total_slots": 1, "model_path": service.served_names[0], "chat_template": "",
            "modalities": {"vision": False, "audio": False}, "build_info": "codefill"}
