"""Gateway mode: an Engine whose generation happens on OpenAI-compatible
upstream servers (vLLM's, or another codefill), N replicas of the same model.

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

Each request streams (SSE) from one replica, picked by the session's place on
the hash ring (`replicas.py`). Closing the token stream closes the upstream
HTTP request, which vLLM (and codefill) take as an abort. A replica that
cannot be reached is taken out of the ring and the request goes to the next
live one, as long as no token of it has come back; a replica that fails
mid-completion fails that request with a clean 502.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ..api.errors import APIError
from .base import GeneratedToken, GenerationRequest, GenerationResult, ModelInfo, Superseded
from .replicas import Replica, ReplicaPool
from .vocab import Vocabulary, load_vocabulary

log = logging.getLogger("codefill.engine.upstream")

_DONE = object()
# Longest wait for the next piece of an upstream's stream before the request
# fails with 504 (a replica that hangs must not hang the editor).
READ_TIMEOUT = 30.0


class _Retry(Exception):
    """The replica could not take the request; try the next one."""


@dataclass
class _Job:
    request: GenerationRequest
    out: asyncio.Queue = field(default_factory=asyncio.Queue)
    pump: asyncio.Task | None = None
    superseded: bool = False
    replica: Replica | None = None


class UpstreamEngine:
    def __init__(self, pool: ReplicaPool, vocab_path: str | Path, *, model_id: str, n_ctx: int = 4096,
                 family: str | None = None, read_timeout: float = READ_TIMEOUT) -> None:
        self.pool = pool
        self._path = Path(vocab_path)
        self._model_id = model_id
        self._n_ctx = n_ctx
        self._family_override = family
        self._read_timeout = read_timeout
        self._vocab: Vocabulary | None = None
        self._info: ModelInfo | None = None
        self._stop_ids: frozenset[int] = frozenset()
        self._latest: dict[str, _Job] = {}

    # -- lifecycle -----------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._info is not None

    @property
    def info(self) -> ModelInfo:
        if self._info is None:
            raise RuntimeError("the tokenizer is still loading")
        return self._info

    async def start(self) -> None:
        await asyncio.to_thread(self._load_vocab)
        await self.pool.start()
        lengths = [r.max_model_len for r in self.pool.replicas.values() if r.max_model_len]
        n_ctx = min([self._n_ctx, *lengths])
        if n_ctx < self._n_ctx:
            log.info("context %d -> %d: an upstream serves at most %d tokens", self._n_ctx, n_ctx, n_ctx)
        from codefill.models.families import detect_family, get_family

        arch = self._vocab.architecture
        family = get_family(self._family_override) if self._family_override else detect_family(self, arch)
        self._stop_ids = frozenset(t for t in map(self._vocab.special_token, family.stop_tokens) if t is not None)
        self._info = ModelInfo(id=self._model_id, path=str(self._path), n_ctx=n_ctx, architecture=arch,
                               family=family.name, created=int(self._path.stat().st_mtime))
        live = ", ".join(r.url for r in self.pool.live) or "none yet"
        log.info("gateway for %d upstreams (live: %s), family %s, n_ctx %d",
                 len(self.pool.replicas), live, family.name, n_ctx)

    def _load_vocab(self) -> None:
        self._vocab = load_vocabulary(self._path)

    async def close(self) -> None:
        await self.pool.close()
        if self._vocab is not None:
            self._vocab.close()
            self._vocab = None

    # -- vocabulary ----------------------------------------------------------

    @property
    def n_vocab(self) -> int:
        return self._vocab.n_vocab

    def tokenize(self, text: str, *, special: bool = False, add_bos: bool = False) -> list[int]:
        return self._vocab.tokenize(text, special=special, add_bos=add_bos)

    def detokenize(self, tokens: list[int]) -> str:
        return self._vocab.detokenize(tokens)

    def has_special_token(self, text: str) -> bool:
        return self._vocab.special_token(text) is not None

    def heal_text(self, prompt: str) -> str:
        return ""  # token healing needs a constrained first token: the llama.cpp engine's only

    # -- generation ----------------------------------------------------------

    async def generate(self, request: GenerationRequest, result: GenerationResult) -> AsyncIterator[GeneratedToken]:
        if not self.ready:
            raise RuntimeError("the tokenizer is still loading")
        job = _Job(request)
        session = request.session
        if session is not None:
            older = self._latest.get(session)
            if older is not None:
                older.superseded = True
                if older.pump is not None:
                    older.pump.cancel()
                older.out.put_nowait(_DONE)
            self._latest[session] = job
        job.pump = asyncio.create_task(self._pump(job, result))
        try:
            while True:
                item = await job.out.get()
                if item is _DONE:
                    if job.superseded:
                        raise Superseded(f"superseded by a newer request of session {session!r}")
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            # The consumer stopped (done, closed early, or its task cancelled):
            # cancelling the pump closes the upstream request, so it aborts.
            job.pump.cancel()
            if session is not None and self._latest.get(session) is job:
                del self._latest[session]

    async def _pump(self, job: _Job, result: GenerationResult) -> None:
        try:
            await self._send(job, result)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            job.out.put_nowait(exc)
        job.out.put_nowait(_DONE)

    async def _send(self, job: _Job, result: GenerationResult) -> None:
        req = job.request
        key = req.session or req.request_id or uuid.uuid4().hex
        tried = 0
        for replica in self.pool.candidates(key):
            tried += 1
            try:
                await self._stream_from(replica, job, result)
                return
            except _Retry as exc:
                log.warning("%s could not take request %s (%s); trying the next replica",
                            replica.url, req.request_id, exc)
        reason = "none of the upstream replicas is reachable" if tried else "no upstream replica is alive"
        raise APIError(503, f"The completion could not be served: {reason}. Try again in a few seconds.",
                       code="upstream_unavailable", headers={"Retry-After": "2"})

    def _body(self, replica: Replica, req: GenerationRequest) -> dict:
        s = req.sampling
        body = {
            "model": replica.model,
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
        if req.session is not None:
            body["user"] = req.session
        stop_ids = req.stop_token_ids | self._stop_ids
        if stop_ids:
            body["stop_token_ids"] = sorted(stop_ids)  # vLLM's extension; codefill knows its family's own
        if req.top_logprobs is not None:
            body["logprobs"] = req.top_logprobs
        return body

    async def _stream_from(self, replica: Replica, job: _Job, result: GenerationResult) -> None:
        req = job.request
        result.prompt_tokens = len(req.prompt_tokens)
        emitted = False
        replica.in_flight += 1
        job.replica = replica
        timeout = httpx.Timeout(connect=self.pool.health_timeout, read=self._read_timeout, write=30, pool=30)
        log.debug("request %s (session %s) -> %s", req.request_id, req.session, replica.url)
        try:
            async with self.pool.client.stream("POST", replica.url + "/v1/completions",
                                               json=self._body(replica, req), timeout=timeout) as resp:
                if resp.status_code != 200:
                    await self._refused(replica, resp)
                replica.served += 1
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
            log.debug("request %s <- %s: %s", req.request_id, replica.url, result.finish_reason)
            if result.finish_reason is None:
                result.finish_reason = "stop"
            if req.max_tokens == 0:
                result.completion_tokens, result.finish_reason = 0, "length"
        except httpx.TimeoutException as exc:
            if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)) and not emitted:
                self.pool.mark_dead(replica, f"timed out connecting: {exc!r}")
                raise _Retry(repr(exc)) from None
            raise APIError(504, f"The upstream {replica.url} did not answer within {self._read_timeout:g} s.",
                           code="upstream_timeout") from None
        except httpx.TransportError as exc:
            self.pool.mark_dead(replica, f"{type(exc).__name__}: {exc}")
            if not emitted:
                raise _Retry(f"{type(exc).__name__}: {exc}") from None
            raise APIError(502, f"The upstream replica {replica.url} failed in the middle of this completion "
                                "and is out of the ring; the next request goes to another replica.",
                           code="upstream_failed") from None
        finally:
            replica.in_flight -= 1

    async def _refused(self, replica: Replica, resp: httpx.Response) -> None:
        """An upstream's error answer, before any token: raises."""
        raw = await resp.aread()
        try:
            error = json.loads(raw)["error"]
            message, code = error.get("message", ""), error.get("code")
        except (ValueError, KeyError, TypeError, AttributeError):
            message, code = raw.decode("utf-8", "replace")[:300], None
        if resp.status_code == 409 and code == "superseded":
            raise Superseded("superseded on the upstream by a newer request of the same session")
        if resp.status_code in (502, 503, 504):
            # Loading, overloaded or shutting down: not this replica's turn.
            self.pool.mark_dead(replica, f"answered {resp.status_code}: {message}")
            raise _Retry(f"{resp.status_code} {message}")
        status = 400 if resp.status_code in (400, 404, 413, 422) else 502
        raise APIError(status, f"The upstream {replica.url} refused the request ({resp.status_code}): {message}",
                       code="upstream_error")

    def _tokens(self, chunk: dict, result: GenerationResult) -> list[GeneratedToken]:
        """One upstream SSE chunk -> the tokens it carries (one per chunk; vLLM
        sends one token per chunk unless speculative decoding accepts several)."""
        if "error" in chunk:
            error = chunk["error"] or {}
            if error.get("code") == "superseded":
                raise Superseded("superseded on the upstream by a newer request of the same session")
            raise APIError(502, f"The upstream failed during the completion: {error.get('message')}",
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
