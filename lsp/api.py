"""The codefill server's HTTP API as the bridge uses it: GET /v1/models once,
then POST /v1/completions for every completion and every cache pre-warm, and
POST /v1/next_edit for next edits (the same key, session and cancellation).

Every failure comes out as one `ServerProblem` with a kind the bridge can act
on and a sentence a user can act on. Cancelling a call (a newer request, the
client's $/cancelRequest, the timeout) closes its HTTP connection, and the
server stops generating when its client disconnects.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass
from collections.abc import Awaitable
from typing import Literal, TypeVar

import httpx

from .context import CompletionContext
from .settings import Settings

log = logging.getLogger("codefill.lsp.api")

CONNECT_TIMEOUT_S = 2.0
T = TypeVar("T")

ProblemKind = Literal["unreachable", "timeout", "loading", "auth", "rejected", "bad_response", "superseded",
                      "deadline"]


class ServerProblem(Exception):
    def __init__(self, kind: ProblemKind, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.param = param
        """The request parameter the server's error names, if any."""


@dataclass
class Completion:
    text: str
    finish_reason: str | None
    model: str


@dataclass
class NextEditAnswer:
    id: str
    edits: list[dict]
    """As the server wrote them: {"range": {"start", "end"}, "text"}, positions in UTF-16 code units."""
    no_edit: bool


async def _bounded(call: Awaitable[T], settings: Settings) -> T:
    try:
        async with asyncio.timeout(settings.timeout_ms / 1000):
            return await call
    except TimeoutError:
        raise ServerProblem("timeout", f"the codefill server at {settings.server_url} did not answer within "
                            f"{settings.timeout_ms / 1000:g} s (setting timeoutMs)") from None


class CodefillAPI:
    """One per bridge process: one HTTP connection pool, one session id."""

    def __init__(self, session_id: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.session_id = session_id
        self._client = httpx.AsyncClient(transport=transport,
                                         limits=httpx.Limits(max_connections=4, max_keepalive_connections=2))
        self._model: str | None = None
        self._model_url: str | None = None
        self._ids = itertools.count(1)
        # The body of the last completion request sent (not pre-warming), for `codefill/lastRequest`.
        self.last_request: dict | None = None
        # The text the server answered it, for `codefill/lastAnswer`.
        self.last_answer: str | None = None
        # The last next-edit request and the server's answer, for `codefill/lastNextEdit`.
        self.last_next_edit: dict | None = None

    async def close(self) -> None:
        await self._client.aclose()

    def forget_model(self) -> None:
        """The server may have restarted with another model: ask again next time."""
        self._model = None

    async def complete(self, ctx: CompletionContext, settings: Settings, *, max_tokens: int | None = None) -> Completion:
        """One completion at the cursor `ctx` describes. max_tokens=0 only
        warms the server's cache. Bounded by settings.timeout_ms in all."""
        return await _bounded(self._complete(ctx, settings, settings.max_tokens if max_tokens is None else max_tokens),
                              settings)

    async def next_edit(self, body: dict, settings: Settings) -> NextEditAnswer:
        """POST /v1/next_edit with `body` (all but `model` and `user`, which
        are the bridge's), bounded by settings.timeout_ms like a completion."""
        return await _bounded(self._next_edit(body, settings), settings)

    async def _next_edit(self, body: dict, settings: Settings) -> NextEditAnswer:
        body = {"model": await self._model_for(settings), **body, "user": self.session_id}
        if settings.next_edit_max_tokens is not None:
            body["max_tokens"] = settings.next_edit_max_tokens
        self.last_next_edit = {"request": body, "answer": None}
        data = await self._call("POST", "/v1/next_edit", settings, json=body,
                                request_id=f"{self.session_id}-{next(self._ids)}")
        self.last_next_edit["answer"] = data
        try:
            return NextEditAnswer(id=str(data["id"]), edits=list(data["edits"]), no_edit=bool(data.get("no_edit")))
        except (KeyError, TypeError):
            raise ServerProblem("bad_response", f"the server at {settings.server_url} answered a next edit without "
                                "`id` and `edits`; is it a codefill server with POST /v1/next_edit?") from None

    async def _complete(self, ctx: CompletionContext, settings: Settings, max_tokens: int) -> Completion:
        model = await self._model_for(settings)
        body = {
            "model": model,
            "prompt": ctx.prefix,
            "suffix": ctx.suffix,
            "max_tokens": max_tokens,
            "stream": False,
            "user": self.session_id,
            "mode": settings.mode,
            # The server picks its tree-sitter grammar by these and puts the
            # other open files' declarations in the prompt.
            "language": ctx.language,
            "filepath": ctx.filepath,
            "input_extra": ctx.extra,
        }
        # How long the editor waits for ghost text: the server drops an answer
        # that would come later. Not on a pre-warm, which nobody waits for.
        if max_tokens and settings.deadline_ms:
            body["deadline_ms"] = settings.deadline_ms
        request_id = f"{self.session_id}-{next(self._ids)}"
        if max_tokens:
            self.last_request, self.last_answer = body, None
        data = await self._call("POST", "/v1/completions", settings, json=body, request_id=request_id)
        try:
            choice = data["choices"][0]
            if max_tokens:
                self.last_answer = choice["text"]
            return Completion(text=choice["text"], finish_reason=choice.get("finish_reason"), model=model)
        except (KeyError, IndexError, TypeError):
            raise ServerProblem("bad_response", f"the server at {settings.server_url} answered a completion "
                                "without choices[0].text; is it a codefill (or OpenAI-compatible) server?") from None

    async def _model_for(self, settings: Settings) -> str:
        if settings.model:
            return settings.model
        if self._model is not None and self._model_url == settings.server_url:
            return self._model
        data = await self._call("GET", "/v1/models", settings)
        try:
            self._model = data["data"][0]["id"]
        except (KeyError, IndexError, TypeError):
            raise ServerProblem("bad_response", f"the server at {settings.server_url} lists no model at "
                                "GET /v1/models") from None
        self._model_url = settings.server_url
        log.info("using model %s at %s", self._model, settings.server_url)
        return self._model

    async def _call(self, method: str, path: str, settings: Settings, *, json: dict | None = None,
                    request_id: str | None = None) -> dict:
        headers = {}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        if request_id:
            headers["X-Request-Id"] = request_id
        # The session as a header too: what a load balancer in front of several servers hashes on.
        headers["X-Session-Id"] = self.session_id
        url = settings.server_url + path
        try:
            # The whole call is bounded by timeoutMs (complete); a host that
            # drops packets instead of refusing them is given up on sooner.
            r = await self._client.request(method, url, json=json, headers=headers,
                                           timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT_S))
        except httpx.TransportError as exc:
            self.forget_model()
            reason = str(exc) or type(exc).__name__
            raise ServerProblem("unreachable", f"cannot reach the codefill server at {settings.server_url} "
                                f"({reason}); start it with `codefill serve`, or set serverUrl") from None
        if r.status_code == 200:
            try:
                return r.json()
            except ValueError:
                raise ServerProblem("bad_response", f"{method} {url} answered 200 but not JSON") from None
        raise self._problem(r, settings)

    def _problem(self, r: httpx.Response, settings: Settings) -> ServerProblem:
        try:
            error = r.json()["error"]
            detail, code, param = error.get("message") or "", error.get("code"), error.get("param")
        except (ValueError, KeyError, TypeError, AttributeError):
            detail, code, param = r.text[:200], None, None
        where = f"the codefill server at {settings.server_url}"
        if r.status_code == 409 and code == "superseded":
            # The server got this session's newer request first: nothing is wrong.
            return ServerProblem("superseded", f"{where}: {detail}")
        if r.status_code == 503 and code == "deadline_exceeded":
            # It could not answer within deadlineMs, when the editor no longer waits: no suggestion.
            return ServerProblem("deadline", f"{where}: {detail}")
        if r.status_code == 503:
            return ServerProblem("loading", f"{where} is not ready: {detail}")
        if r.status_code in (401, 403):
            return ServerProblem("auth", f"{where} refused the request ({r.status_code}: {detail}); "
                                 "check the apiKey setting")
        if r.status_code == 404 and code == "model_not_found":
            self.forget_model()
        return ServerProblem("rejected", f"{where} answered {r.status_code}: {detail}",
                             param if isinstance(param, str) else None)
