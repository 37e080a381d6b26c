"""Gateway mode: an Engine whose generation happens on one OpenAI-compatible
upstream endpoint: a vLLM server, or a router in front of many that already
scales and keeps sessions on their replica (vLLM production-stack's router
with `--routing-logic session --session-key x-session-id`, or any L7 load
balancer hashing on that header). Spreading load and noticing dead replicas
is that router's job, not ours.

Everything above the Engine protocol stays here, in the gateway: FIM
templates, window anchoring and trimming, post-processing, typing-through,
sessions. So the gateway needs the model's tokenizer (`vocab.py`): the
model's Hugging Face tokenizer.json, or a GGUF of the same family loaded
vocabulary-only.

Prompts go upstream as token ids, not text: the upstream then sees exactly
the tokens the gateway counted against the context (trimming is exact), the
FIM markers are the special tokens and a user's text that happens to spell
`<|fim_prefix|>` stays plain text (a text prompt would be re-tokenized with
special tokens parsed, by vLLM), and no second BOS is added. vLLM and
codefill both take token-id prompts on /v1/completions.

Each request carries the session (tenant-scoped) as `user` and as the
`X-Session-Id` header a router hashes on, and the tenant as vLLM's
`cache_salt`, so prefix caches are never shared across tenants (a session
that does not supersede, one the gateway chose for a client that sent none,
is not forwarded: the upstream would let its requests cancel each other).
Closing the token stream closes the upstream HTTP request, which vLLM (and
codefill) take as an abort. Failures are answered, never retried: the upstream
unreachable or saying 503 (its back-pressure) is a 503 with Retry-After;
breaking off mid-completion a 502; silence a 504.

In detail:
- A request goes upstream with `stream: true`, `include_usage`, the family's
  stop tokens as vLLM's `stop_token_ids`, and the request id as
  `X-Request-Id`. The upstream's model id and `max_model_len` come from its
  `/v1/models` at start-up, or on the first request if it was not up yet.
- Each request runs in a pump task that feeds the token queue `generate`
  reads. Closing the generator cancels the pump, which closes the HTTP
  stream; a newer request of the session cancels the older one's pump
  (`Superseded`, 409).
- Failures are `EngineError`s, which the serving layer answers with their
  status, code and headers (engines never import `server/api`): unreachable
  is 503 `upstream_unavailable` with `Retry-After`; the upstream's own 503 or
  429 (loading, full, draining) keeps its status, its code and its
  `Retry-After` (DEFAULT_RETRY_AFTER, 2 s, when it gave none); a stream that
  breaks after tokens were sent is 502 `upstream_failed`; no data for
  READ_TIMEOUT (30 s) is 504. Never a 500.
- Token healing is off here (`heal_text` is ""; see healing.py), so a
  gateway's answers equal its upstream's with `--no-token-healing`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .base import EngineError, GeneratedToken, GenerationRequest, GenerationResult, Superseded
from .common import END, EngineBase, next_token
from .vocab import load_vocabulary

log = logging.getLogger("codefill.engine.upstream")
# httpx logs every request at INFO.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

# Longest wait for the next piece of an upstream's stream before the request
# fails with 504 (an upstream that hangs must not hang the editor).
READ_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0
SESSION_HEADER = "X-Session-Id"
# Seconds a client is told to wait when the upstream gave no Retry-After of its own.
DEFAULT_RETRY_AFTER = "2"


@dataclass
class _Job:
    request: GenerationRequest
    out: asyncio.Queue = field(default_factory=asyncio.Queue)
    pump: asyncio.Task | None = None
    superseded: bool = False


class UpstreamEngine(EngineBase):
    _loading = "the tokenizer is still loading"
    # Requests the gateway lets run upstream at once: the upstream batches them itself; past this many,
    # they wait here in the serving layer's per-tenant fair queue.
    max_sequences = 64
    # The upstream keeps the cache: no cold window is sent to it.
    uses_cold_window = False

    def __init__(self, url: str, vocab_path: str | Path, *, model_id: str, api_key: str | None = None,
                 n_ctx: int = 4096, family: str | None = None, read_timeout: float = READ_TIMEOUT,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        url = url.rstrip("/").removesuffix("/v1")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"upstream {url!r} is not an http:// or https:// URL")
        super().__init__(model_id=model_id, family=family)
        self.url = url
        self._path = Path(vocab_path)
        self._n_ctx = n_ctx
        self._read_timeout = read_timeout
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.AsyncClient(headers=headers, transport=transport,
                                        timeout=httpx.Timeout(connect=CONNECT_TIMEOUT, read=read_timeout,
                                                              write=30, pool=30),
                                        limits=httpx.Limits(max_connections=None, max_keepalive_connections=64))
        # The model id to send upstream, from its /v1/models.
        self.upstream_model: str | None = None

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self._load_vocab)
        n_ctx = self._n_ctx
        try:
            max_len = await self._ask_model()
        except (httpx.HTTPError, EngineError) as exc:
            # Not fatal: the upstream may start later; requests ask again until it answers.
            max_len = None
            log.warning("upstream %s did not list its model yet (%r); asking again on the first request",
                        self.url, exc)
        if max_len and max_len < n_ctx:
            log.info("context %d -> %d: the upstream serves at most %d tokens", n_ctx, max_len, max_len)
            n_ctx = max_len
        family = self._identify(self._vocab.architecture, path=self._path, n_ctx=n_ctx)
        log.info("gateway for %s (model %s), family %s, n_ctx %d", self.url, self.upstream_model, family.name, n_ctx)

    async def _ask_model(self) -> int | None:
        """The upstream's model id (kept) and context length, from its /v1/models."""
        r = await self.client.get(self.url + "/v1/models")
        if r.status_code != 200:
            raise EngineError(503, f"The upstream {self.url} answered /v1/models with {r.status_code}.",
                              code="upstream_unavailable", headers={"Retry-After": DEFAULT_RETRY_AFTER})
        try:
            first = r.json()["data"][0]
            self.upstream_model = first["id"]
        except (ValueError, LookupError, TypeError):
            raise EngineError(502, f"The upstream {self.url} lists no model at /v1/models; is it an "
                                   "OpenAI-compatible server?", code="upstream_error") from None
        return first.get("max_model_len")

    def _load_vocab(self) -> None:
        self._vocab = load_vocabulary(self._path)

    async def close(self) -> None:
        await self.client.aclose()
        if self._vocab is not None:
            self._vocab.close()
            self._vocab = None

    # -- generation ----------------------------------------------------------

    async def generate(self, request: GenerationRequest, result: GenerationResult) -> AsyncIterator[GeneratedToken]:
        self._require_ready()
        job = _Job(request)
        older = self._latest.enter(request.session, job, supersede=request.supersede)
        if older is not None:
            if older.pump is not None:
                older.pump.cancel()
            older.out.put_nowait(END)
        job.pump = asyncio.create_task(self._pump(job, result))
        try:
            while (token := await next_token(job)) is not None:
                yield token
        finally:
            # The consumer stopped (done, closed early, or its task cancelled):
            # cancelling the pump closes the upstream request, so it aborts.
            job.pump.cancel()
            self._latest.leave(request.session, job)

    async def _pump(self, job: _Job, result: GenerationResult) -> None:
        try:
            await self._send(job, result)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            job.out.put_nowait(exc)
        job.out.put_nowait(END)

    async def _send(self, job: _Job, result: GenerationResult) -> None:
        req = job.request
        result.prompt_tokens = len(req.prompt_tokens)
        emitted = False
        # A session that does not supersede (chosen here for a client that sent none) stays here: the
        # upstream would take it for a client's own and let its requests cancel each other.
        forward = req.session is not None and req.supersede
        headers = {SESSION_HEADER: req.session} if forward else {}
        if req.request_id:
            headers["X-Request-Id"] = req.request_id
        log.debug("request %s (session %s) -> %s", req.request_id, req.session, self.url)
        try:
            if self.upstream_model is None:
                await self._ask_model()
            async with self.client.stream("POST", self.url + "/v1/completions", json=self._body(req),
                                          headers=headers) as resp:
                if resp.status_code != 200:
                    await self._refused(resp)
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    for token in self._tokens(json.loads(data), result):
                        if req.max_tokens == 0:
                            continue
                        emitted = True
                        job.out.put_nowait(token)
            log.debug("request %s <- %s: %s", req.request_id, self.url, result.finish_reason)
            if result.finish_reason is None:
                result.finish_reason = "stop"
            if req.max_tokens == 0:
                result.completion_tokens, result.finish_reason = 0, "length"
        except httpx.TimeoutException as exc:
            if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
                raise self._unavailable(f"connecting timed out: {exc!r}") from None
            raise EngineError(504, f"The upstream {self.url} did not answer within {self._read_timeout:g} s.",
                              code="upstream_timeout") from None
        except httpx.TransportError as exc:
            if not emitted:
                raise self._unavailable(f"{type(exc).__name__}: {exc}") from None
            raise EngineError(502, f"The upstream {self.url} failed in the middle of this completion. "
                                   "Send it again.", code="upstream_failed") from None

    def _unavailable(self, reason: str) -> EngineError:
        log.warning("upstream %s is unreachable: %s", self.url, reason)
        return EngineError(503, f"The completion could not be served: the upstream {self.url} is unreachable "
                                f"({reason}). Try again in a few seconds.", code="upstream_unavailable",
                           headers={"Retry-After": DEFAULT_RETRY_AFTER})

    def _body(self, req: GenerationRequest) -> dict:
        s = req.sampling
        body = {
            "model": self.upstream_model,
            "prompt": list(req.prompt_tokens),
            # vLLM generates at least one token; for a cache warm-up (0) the one is dropped.
            "max_tokens": max(req.max_tokens, 1),
            "temperature": s.temperature,
            "top_p": s.top_p,
            "presence_penalty": s.presence_penalty,
            "frequency_penalty": s.frequency_penalty,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if s.seed is not None:
            body["seed"] = s.seed
        if req.session is not None and req.supersede:
            body["user"] = req.session
        if req.cache_salt:
            body["cache_salt"] = req.cache_salt  # vLLM: prefix caches are shared only within one salt
        if self._eog_ids:
            body["stop_token_ids"] = sorted(self._eog_ids)  # vLLM's extension; codefill knows its family's own
        if req.top_logprobs is not None:
            body["logprobs"] = req.top_logprobs
        return body

    async def _refused(self, resp: httpx.Response) -> None:
        """The upstream's error answer, before any token: raised as ours."""
        raw = await resp.aread()
        try:
            error = json.loads(raw)["error"]
            message, code = error.get("message", ""), error.get("code")
        except (ValueError, KeyError, TypeError, AttributeError):
            message, code = raw.decode("utf-8", "replace")[:300], None
        status = resp.status_code
        if status == 409 and code == "superseded":
            raise Superseded("superseded on the upstream by a newer request of the same session")
        if status in (429, 503):
            # Back-pressure (busy, loading, draining): the client waits and asks again.
            raise EngineError(status, f"The upstream is busy ({status}): {message}",
                              code=code or ("rate_limit_exceeded" if status == 429 else "upstream_overloaded"),
                              headers={"Retry-After": resp.headers.get("Retry-After") or DEFAULT_RETRY_AFTER})
        if status == 404:
            self.upstream_model = None  # it may serve another model now: ask again next time
        mapped = 400 if status in (400, 404, 413, 422) else 504 if status == 504 else 502
        raise EngineError(mapped, f"The upstream {self.url} refused the request ({status}): {message}",
                          code="upstream_error")

    def _tokens(self, chunk: dict, result: GenerationResult) -> list[GeneratedToken]:
        """One upstream SSE chunk -> the tokens it carries (one per chunk; vLLM
        sends one token per chunk unless speculative decoding accepts several)."""
        if "error" in chunk:
            error = chunk["error"] or {}
            if error.get("code") == "superseded":
                raise Superseded("superseded on the upstream by a newer request of the same session")
            raise EngineError(502, f"The upstream failed during the completion: {error.get('message')}",
                              code="upstream_error")
        usage = chunk.get("usage")
        if usage:
            result.prompt_tokens = usage.get("prompt_tokens") or result.prompt_tokens
            result.completion_tokens = usage.get("completion_tokens") or result.completion_tokens
            details = usage.get("prompt_tokens_details") or {}
            result.cached_prompt_tokens = details.get("cached_tokens") or 0
        out = []
        for choice in chunk.get("choices") or []:
            text = choice.get("text") or ""
            lp = choice.get("logprobs") or None
            if text or lp:
                logprob = top = None
                if lp and lp.get("token_logprobs"):
                    logprob = sum(x for x in lp["token_logprobs"] if x is not None)
                    top = (lp.get("top_logprobs") or [None])[0]
                result.completion_tokens += 1
                out.append(GeneratedToken(-1, text, logprob, top))
            if choice.get("finish_reason") in ("stop", "length"):
                result.finish_reason = choice["finish_reason"]
        return out
