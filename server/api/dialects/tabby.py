"""Tabby's server API, the part tabby-agent (the language server inside Tabby's VS Code,
JetBrains, Vim and Eclipse plugins) uses: `GET /v1/health`, `GET /v1beta/server_setting`,
`POST /v1/completions` with `segments`, and Tabby's events on `POST /v1/events`.

Tabby's bearer token is a codefill API key. Its completion route is OpenAI's
path with another body: `TabbyCompletions` (ASGI, inside the body limit) sends
a body with `segments` and no `prompt` to `/v1/completions/tabby`, so
`/v1/completions` keeps OpenAI's contract, errors included. The segments map to
a `CompletionRequest`: `prefix`/`suffix` are the prompt and suffix, `filepath`
and `language` name the language, `declarations` and the relevant snippets
become `input_extra`; `git_url` and `clipboard` are accepted and not used.
Errors keep OpenAI's shape (Tabby's own server answers a bare status, which is
all tabby-agent reads).
"""

from __future__ import annotations

import json
import os
import platform

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from ..admission import Admitted
from ..router import admitted_route
from ..protocol import MAX_EXTRA_CHARS, MAX_EXTRA_FILES, ErrorResponse
from .common import completion_request, served_model

router = APIRouter(tags=["Tabby"])

# The Tabby server version codefill answers as: tabby-agent asks for /v1beta/server_setting from 0.9.0 on.
TABBY_VERSION = "0.13.0"
COMPLETIONS_PATH = "/v1/completions"
TABBY_COMPLETIONS_PATH = "/v1/completions/tabby"
# Tabby's server generates at most 64 tokens per completion by default.
_MAX_TOKENS = 64
_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 404, 408, 409, 429, 503)}


class Snippet(BaseModel):
    model_config = ConfigDict(extra="allow")

    filepath: str = Field(default="", max_length=1024)
    body: str = Field(default="", max_length=MAX_EXTRA_CHARS)


class Segments(BaseModel):
    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)

    prefix: str
    """The code before the cursor."""
    suffix: str | None = None
    """The code after the cursor."""
    filepath: str | None = None
    """The file's path relative to its repository."""
    git_url: str | None = None
    declarations: list[Snippet] | None = None
    """Declarations of what the code at the cursor uses (from the editor's language server)."""
    relevant_snippets_from_changed_files: list[Snippet] | None = None
    relevant_snippets_from_recently_opened_files: list[Snippet] | None = None
    clipboard: str | None = None


class TabbyCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)

    language: str | None = None
    """The editor's language id."""
    segments: Segments
    user: str | None = None
    """The editor session (Tabby's user)."""
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    seed: int | None = None


class TabbyChoice(BaseModel):
    index: int
    text: str


class TabbyCompletion(BaseModel):
    id: str
    choices: list[TabbyChoice]


def is_tabby_body(body: bytes) -> bool:
    """A completion request in Tabby's shape: a JSON object with `segments` and no `prompt`."""
    if b'"segments"' not in body:
        return False
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and "segments" in data and "prompt" not in data


class TabbyCompletions:
    """ASGI middleware: a POST to /v1/completions in Tabby's shape goes to Tabby's route.
    It runs inside the body limit, which hands the body on whole."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != COMPLETIONS_PATH:
            return await self.app(scope, receive, send)
        message = await receive()
        chunks = [message.get("body", b"")]
        while message["type"] == "http.request" and message.get("more_body"):
            message = await receive()
            chunks.append(message.get("body", b""))
        body = b"".join(chunks)
        if is_tabby_body(body):  # in place: the outer middleware (metrics, logs) sees the route taken
            scope["path"], scope["raw_path"] = TABBY_COMPLETIONS_PATH, TABBY_COMPLETIONS_PATH.encode()
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _extra(segments: Segments) -> list[dict] | None:
    """Declarations first, then snippets, each file's text once, within input_extra's limits."""
    seen, out = set(), []
    for group in (segments.declarations, segments.relevant_snippets_from_changed_files,
                  segments.relevant_snippets_from_recently_opened_files):
        for s in group or ():
            if not s.body.strip() or (s.filepath, s.body) in seen or len(out) >= MAX_EXTRA_FILES:
                continue
            seen.add((s.filepath, s.body))
            out.append({"filename": s.filepath or "snippet", "text": s.body})
    return out or None


@router.post(TABBY_COMPLETIONS_PATH, response_model=TabbyCompletion, responses=_ERRORS,
             summary="Tabby: a completion for `segments` (Tabby's clients post these to /v1/completions)")
@admitted_route
async def tabby_completion(body: TabbyCompletionRequest, request: Request):
    service = request.app.state.service
    seg = body.segments
    req = completion_request(model=served_model(service, None), prompt=seg.prefix, suffix=seg.suffix or "",
                             language=body.language if body.language not in (None, "", "unknown") else None,
                             filepath=seg.filepath, input_extra=_extra(seg), user=body.user,
                             temperature=body.temperature, seed=body.seed, max_tokens=_MAX_TOKENS)
    admitted = Admitted(request, req, dialect="tabby")
    completion = await admitted.complete()
    if completion is None:
        return None  # the client left
    return {"id": completion.id, "choices": [{"index": c.index, "text": c.text} for c in completion.choices]}


@router.get("/v1/health", summary="Tabby: the server's state")
@router.post("/v1/health", summary="Tabby: the server's state (older clients post)")
async def tabby_health(request: Request):
    names = request.app.state.service.served_names
    return {"model": names[0], "chat_model": None, "device": "cpu", "arch": platform.machine(),
            "cpu_info": platform.processor() or platform.machine(), "cpu_count": os.cpu_count() or 1,
            "cuda_devices": [], "version": {"build_date": "", "build_timestamp": "", "git_sha": "",
                                            "git_describe": TABBY_VERSION}}


@router.get("/v1beta/server_setting", summary="Tabby: settings the server gives its clients")
async def tabby_server_setting():
    return {"disable_client_side_telemetry": True}


# Tabby's completion events, as tabby-agent posts them to /v1/events.
_EVENTS = {"view": "shown", "select": "accepted", "dismiss": "dismissed"}


def from_tabby_event(data):
    """A Tabby event (`{"type": "view"|"select"|"dismiss", "completion_id", "choice_index", ...}`) in
    codefill's shape (`{"id", "event"}`); anything else is returned as it is."""
    if not isinstance(data, dict) or "type" not in data or "event" in data:
        return data
    kind = data.get("type")
    return {"id": data.get("completion_id"), "event": _EVENTS.get(kind, kind)}
