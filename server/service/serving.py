"""The completions handler: request in, completion (or a stream of chunks) out.

It takes an `Engine` (the protocol, not a concrete engine), has the prompt
stage (server/prompt/) render each prompt into the engine's input, runs the
engine and passes its text through the post-processing pipeline. A choice
ends when the engine stops or when a filter has seen enough; in both cases
the engine's iterator is closed, which stops generation at once.

It orchestrates; the parts are elsewhere: the prompt in server/prompt/,
typing-through memory in typed_through.py, usage and its metrics in usage.py,
the turns at the engine in fair.py, each request's deadline in deadlines.py.
A stream is OpenAI's completion chunks (`Chunks`) as dicts; the HTTP layer
writes them as server-sent events and ends the stream (api/sse.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import NamedTuple

from codefill.config import default

from ..api.protocol import Completion, CompletionChoice, CompletionRequest, CompletionUsage, Logprobs, merge_logprobs
from ..engines.base import DeadlineMissed, Engine, GenerationRequest, GenerationResult, SamplingParams, Superseded
from ..errors import APIError
from ..languages import detect_language, infer_language
from ..metrics import Metrics
from ..postprocess import Plan, plan
from ..prompt import EngineInput, PromptSettings, render_prompt
from ..prompt.families import FimFamily, get_family
from ..prompt.tokens import TokenMemory
from ..tenants import TenantSettings, session_key
from .admission import Asked, Call, check_served, default_max_tokens, prompt_list
from .cold_starts import ColdStarts
from .concurrent import merged
from .deadlines import Deadline, Rhythm, deadline_of
from .fair import FairQueue
from .sessionless import ImplicitSessions, is_implicit
from .typed_through import AnswerMemory
from .usage import Usage, record_choice

log = logging.getLogger("codefill.serving")

# Room the prompt needs at the very least next to max_tokens.
_MIN_PROMPT_ROOM = 16


@dataclass
class _Prompt:
    """One prompt of the request, as text (for FIM, echo and post-processing)."""

    text: str
    token_ids: list[int] | None = None


class Prepared(NamedTuple):
    language: str | None
    plan: Plan
    input: EngineInput  # what the engine is given (server/prompt/)


@dataclass
class _Choice:
    index: int
    text: list[str] = field(default_factory=list)
    logprobs: Logprobs | None = None
    finish_reason: str | None = None
    result: GenerationResult = field(default_factory=GenerationResult)


@dataclass
class _Delta:
    index: int
    text: str
    logprobs: Logprobs | None = None
    finish_reason: str | None = None


class Chunks:
    """The chunks of one streamed completion (`object: text_completion`, as OpenAI streams them)."""

    def __init__(self, completion_id: str, model: str, include_usage: bool) -> None:
        self.completion_id = completion_id
        self.model = model
        self.include_usage = include_usage
        self.created = int(time.time())

    def _chunk(self, choices: list[dict], usage: dict | None = None) -> dict:
        body = {"id": self.completion_id, "object": "text_completion", "created": self.created,
                "model": self.model, "choices": choices}
        if self.include_usage:
            body["usage"] = usage
        return body

    def choice(self, index: int, text: str, logprobs: Logprobs | None, finish_reason: str | None) -> dict:
        return self._chunk([{"index": index, "text": text, "logprobs": logprobs.model_dump() if logprobs else None,
                             "finish_reason": finish_reason}])

    def usage(self, usage: CompletionUsage) -> dict:
        """The last chunk with `stream_options.include_usage`: no choices, the request's usage."""
        return self._chunk([], usage.model_dump())


@dataclass(frozen=True)
class CompletionSettings:
    """The completions service's part of the settings (codefill/config.py), with their defaults."""

    max_choices: int = default("max_choices")
    default_temperature: float = default("default_temperature")
    fim_order: str = default("fim_order")
    max_queue_wait: float = default("max_queue_wait")  # fair.py: 0 never sheds
    disabled_filters: frozenset[str] = frozenset()  # checked names (postprocess `disabled_filters`)


class CompletionService:
    def __init__(self, engine: Engine, *, served_names: list[str], metrics: Metrics,
                 settings: CompletionSettings | None = None, prompt: PromptSettings | None = None,
                 tenants: TenantSettings | None = None, family: FimFamily | None = None) -> None:
        self.engine = engine
        self.served_names = served_names
        self.settings = settings or CompletionSettings()
        self.metrics = metrics
        self._family = family
        self.prompt_settings = prompt or PromptSettings()
        self._order_warned = False
        self._reported_fields: set[str] = set()
        self.answers, self.tenants = AnswerMemory(), tenants or TenantSettings()
        self.sessionless = ImplicitSessions()  # sessions for clients that send none (sessionless.py)
        self.rhythm = Rhythm()  # sessions' typing rhythm: soft deadlines (deadlines.py)
        self.cold_starts = ColdStarts()  # where sessions' last cold windows started (cold_starts.py)
        self._fair: FairQueue | None = None
        self._tokens: TokenMemory | None = None  # made on first use: the engine's vocabulary is loaded by then

    @property
    def fair(self) -> FairQueue:  # made on first use: the engine's size is known once it is
        if self._fair is None:
            self._fair = FairQueue(self.engine.max_sequences, self.tenants.weights,
                                   max_wait=self.settings.max_queue_wait)
        return self._fair

    @property
    def family(self) -> FimFamily:
        family = self._family or get_family(self.engine.info.family)
        try:
            return family.in_order(self.settings.fim_order)
        except ValueError as exc:
            if not self._order_warned:
                log.warning("%s: using %s", exc, family.order.upper())
                self._order_warned = True
            return family

    # -- checks ----------------------------------------------------------------

    def check(self, req: CompletionRequest) -> tuple[list[_Prompt], int]:
        """The request's prompts and max_tokens, or the APIError that answers it (503, 404, 400)."""
        check_served(self.engine, self.served_names, req.model)
        if req.extra_fields:
            fields = ", ".join(req.extra_fields)
            # Editors send the same extra fields on every keystroke: say it once per kind.
            level = logging.DEBUG if fields in self._reported_fields else logging.INFO
            self._reported_fields.add(fields)
            log.log(level, "ignoring unknown request fields: %s", fields)
        prompts = self._prompts(req)
        most = self.settings.max_choices
        if len(prompts) * req.n > most:
            raise APIError(400, f"This request asks for {len(prompts) * req.n} completions "
                           f"({len(prompts)} prompts x n={req.n}); the limit is {most}.", param="n")
        n_ctx = self.engine.info.n_ctx
        max_tokens = req.max_tokens if req.max_tokens is not None else default_max_tokens(n_ctx)
        if max_tokens > n_ctx - _MIN_PROMPT_ROOM:
            raise APIError(400, f"max_tokens ({max_tokens}) is too large: the model's context is {n_ctx} tokens "
                           f"and at most {n_ctx - _MIN_PROMPT_ROOM} of them can be generated.", param="max_tokens")
        return prompts, max_tokens

    def _prompts(self, req: CompletionRequest) -> list[_Prompt]:
        out = []
        for ids in prompt_list(req.prompt):
            if isinstance(ids, str):
                out.append(_Prompt(ids))
                continue
            n_vocab = self.engine.n_vocab
            if not ids:
                raise APIError(400, "prompt must not contain an empty list of tokens.", param="prompt")
            bad = next((t for t in ids if not 0 <= t < n_vocab), None)
            if bad is not None:
                raise APIError(400, f"prompt token id {bad} is out of range: the vocabulary has {n_vocab} tokens.",
                               param="prompt", code="invalid_token")
            out.append(_Prompt(self.engine.detokenize(list(ids)), list(ids)))
        return out

    # -- one choice ------------------------------------------------------------

    def prepare(self, prompt: _Prompt, req: CompletionRequest, max_tokens: int, tenant: str | None,
                first: bool = True) -> Prepared:
        """What the model is shown for `prompt`: the language, the post-processing plan (mode and
        pipeline) and the engine's input (also what `POST /v1/completions/render` reports). `first`: the
        request's first choice, the one the engine runs as the session's (others have none)."""
        language = detect_language(req.language, req.filepath) or infer_language(prompt.text, req.suffix)
        post = plan(prompt.text, req.suffix, language=language, mode=req.mode, stops=req.stop_list,
                    disabled=self.settings.disabled_filters)
        if self._tokens is None:
            self._tokens = TokenMemory(self.engine)
        vocab = self._tokens.for_salt(self.tenants.salt_of(tenant or "anonymous", req.cache_salt))
        shown = render_prompt(prompt.text, prompt.token_ids, req, mode=post.mode, max_tokens=max_tokens,
                              engine=self.engine, family=self.family, settings=self.prompt_settings, vocab=vocab,
                              busy_sessions=self.busy_sessions(),
                              kept=self.cold_starts.get(session_key(tenant, req.user)) if first else None)
        return Prepared(language, post, shown)

    def busy_sessions(self) -> int:
        """Editor sessions sharing the engine's prompt speed now: those with requests in it, or typing
        (a request within a pause: between keystrokes a typist has none in flight, and its next one
        needs the engine as much)."""
        return max(self.engine.sessions_in_flight, self.rhythm.typing(time.monotonic()))

    def forget_tokens(self, salt: str | None) -> None:
        """Forget the prompt lines `salt` (and the salts narrowed from it) had tokenized."""
        if self._tokens is not None:
            self._tokens.drop(salt)

    async def _run_choice(self, choice: _Choice, prompt: _Prompt, req: CompletionRequest, max_tokens: int,
                          request_id: str, tenant: str | None, deadline: Deadline) -> AsyncIterator[_Delta]:
        # Requests that came with this one (in the same turn of the event loop) count themselves as typing
        # first: typists who start at one moment then get cold windows sized for all of them, not the first
        # one a window sized for itself alone (the engine moves a request still reading a longer window to
        # its smallest when others come later: scheduler.py `_shrink`).
        await asyncio.sleep(0)
        _, post, shown = self.prepare(prompt, req, max_tokens, tenant, first=choice.index == 0)
        pipeline = post.pipeline
        if shown.heal:
            self.metrics.healed.inc()
        if not shown.tokens:  # an empty prompt in a family without markers: nothing to complete from
            yield _Delta(choice.index, "", None, "stop")
            return
        sampling = SamplingParams(
            temperature=req.temperature if req.temperature is not None else self.settings.default_temperature,
            top_p=req.top_p,
            presence_penalty=req.presence_penalty,
            frequency_penalty=req.frequency_penalty,
            seed=None if req.seed is None else req.seed + choice.index,
        )
        gen = GenerationRequest(shown.tokens, max_tokens, sampling, top_logprobs=req.logprobs,
                                request_id=request_id,
                                # One session per request: the first choice's (the others would supersede it).
                                session=session_key(tenant, req.user) if choice.index == 0 else None,
                                supersede=not is_implicit(req.user),  # its clients must not cancel each other
                                cache_salt=self.tenants.salt_of(tenant, req.cache_salt),
                                tenant=tenant, weight=self.tenants.weights.get(tenant, 1.0),
                                lookup_tokens=shown.lookup_tokens, heal=shown.heal, cold_tokens=shown.cold_tokens,
                                kept_tokens=shown.kept_tokens, small_tokens=shown.small_tokens,
                                deadline=deadline.at, deadline_hard=deadline.hard)
        offset = 0
        if req.echo:
            offset = len(prompt.text)
            yield _Delta(choice.index, prompt.text)
        granted = False
        try:  # waits while the engine is full (fair.py); a hard deadline may pass meanwhile
            queued_as = gen.session if gen.supersede else None  # fair.py supersedes by session
            async with self.fair.turn(tenant, queued_as, deadline.at if deadline.hard else None):
                granted = True
                stream = self.engine.generate(gen, choice.result)
                try:
                    async for token in stream:
                        text = pipeline.push(token.text)
                        lp = None
                        if req.logprobs is not None:
                            lp = Logprobs(text_offset=[offset], token_logprobs=[token.logprob],
                                          tokens=[token.text], top_logprobs=[token.top_logprobs])
                        offset += len(text)
                        if text or lp:
                            yield _Delta(choice.index, text, lp)
                        if pipeline.done:  # an answer complete, not one cut short: the engine learns its length
                            choice.result.finish_reason = choice.result.finish_reason or "stop"
                            break
                finally:
                    await stream.aclose()
        except Superseded as exc:
            self.metrics.superseded.inc()
            raise APIError(409, f"This request was {exc}: an editor only needs the answer to its latest keystroke.",
                           code="superseded") from None
        except DeadlineMissed as exc:  # the client hears it as it is (503); charged as unfinished (complete, _stream)
            self.metrics.deadline_missed.labels(tenant or "anonymous", "engine" if granted else "queue").inc()
            exc.headers = self.fair.retry_after(tenant, (req.deadline_ms or 0) / 1000)
            raise
        finally:
            record_choice(self.metrics, choice.result)
            self.cold_starts.keep(gen.session, shown, choice.result)
        tail = pipeline.finish()
        # A filter that ended the text ended it on purpose: "stop", even if
        # the engine ran out of max_tokens at the same moment.
        reason = "length" if choice.result.finish_reason == "length" and not pipeline.stopped_by else "stop"
        yield _Delta(choice.index, tail, None, reason)

    async def _deltas(self, req: CompletionRequest, choices: list[_Choice], prompts: list[_Prompt], max_tokens: int,
                      call: Call, deadline: Deadline) -> AsyncIterator[_Delta]:
        request_id, tenant = call.request_id, call.tenant
        implicit = self.sessionless.assign(req, prompts, tenant)  # a session for a client that sent none
        if implicit is not None:
            req = implicit
            # Its rhythm, as any session's: the soft deadline, and, while it types steadily, a typist the
            # cold windows are shared with (deadlines.py `Rhythm.typing`).
            deadline = deadline_of(self.rhythm, session_key(tenant, req.user), call.received, req.deadline_ms,
                                   implicit=True)
        remembered = self.answers.recall(req, prompts, tenant, self.settings.default_temperature)
        if remembered is not None:
            getattr(self.metrics, remembered.how).inc()  # typed_through or repeated
            # As it came the first time (a repeat): the same pieces, the same counts, its prompt all cached.
            choices[0].result = GenerationResult(prompt_tokens=remembered.prompt_tokens,
                                                 completion_tokens=remembered.completion_tokens,
                                                 cached_prompt_tokens=remembered.prompt_tokens,
                                                 finish_reason="stop")
            *head, last = remembered.pieces or ("",)
            for piece in head:
                yield _Delta(0, piece)
            yield _Delta(0, last, None, remembered.finish_reason)
            return
        texts: list[str] = []
        reason = "stop"
        runs = [self._run_choice(c, prompts[c.index // req.n], req, max_tokens, request_id, tenant, deadline)
                for c in choices]
        async for delta in merged(runs):  # side by side: parallel sequences in the engine
            texts.append(delta.text)
            reason = delta.finish_reason or reason
            yield delta
        result = choices[0].result
        self.answers.keep(req, prompts, tenant, texts, result.prompt_tokens, result.completion_tokens, reason)

    # -- entry points ----------------------------------------------------------

    def asked(self, req: CompletionRequest) -> Asked:
        """What admission weighs of `req` (server/service/admission.py)."""
        return Asked(prompt=req.prompt, suffix=req.suffix, max_tokens=req.max_tokens, n=req.n, model=req.model,
                     language=req.language or detect_language(None, req.filepath))

    def _deadline(self, req: CompletionRequest, call: Call) -> Deadline:
        """The request's deadline (deadlines.py), or 503 `overloaded` at once when the wait for the engine
        would outlast it (fair.py `admit`)."""
        session = session_key(call.tenant, req.user)
        deadline = deadline_of(self.rhythm, session, call.received, req.deadline_ms)
        try:
            self.fair.admit(call.tenant, session, deadline.at if deadline.hard else None)
        except APIError:
            self.metrics.deadline_missed.labels(call.tenant, "admission").inc()
            raise
        return deadline

    async def complete(self, req: CompletionRequest, call: Call) -> Completion:
        """The whole completion, run for `call`'s tenant under its ids."""
        prompts, max_tokens = self.check(req)
        deadline = self._deadline(req, call)
        used = Usage(self.metrics, req.model, call.tenant, stream=False, on_usage=call.on_usage)
        choices = [_Choice(i) for i in range(len(prompts) * req.n)]
        finished = False
        try:
            async for delta in self._deltas(req, choices, prompts, max_tokens, call, deadline):
                choice = choices[delta.index]
                choice.text.append(delta.text)
                used.text(delta.text)
                if delta.logprobs is not None:
                    choice.logprobs = merge_logprobs(choice.logprobs, delta.logprobs)
                if delta.finish_reason:
                    choice.finish_reason = delta.finish_reason
            finished = True
        finally:  # cancelled, superseded or timed out too: charged for what the engine did
            usage = used.record([c.result for c in choices], req.n, finished)
        return Completion(
            id=call.answer_id,
            model=req.model,
            choices=[
                CompletionChoice(index=c.index, text="".join(c.text), finish_reason=c.finish_reason,
                                 logprobs=(c.logprobs or Logprobs()) if req.logprobs is not None else None)
                for c in choices
            ],
            usage=usage,
        )

    def stream(self, req: CompletionRequest, call: Call) -> AsyncIterator[dict]:
        """Validate now (errors become HTTP statuses), then stream the completion's chunks (dicts).
        A failure on the way is raised; the HTTP layer answers it and ends the stream."""
        prompts, max_tokens = self.check(req)
        return self._stream(req, prompts, max_tokens, call, self._deadline(req, call))

    async def _stream(self, req: CompletionRequest, prompts: list[_Prompt], max_tokens: int,
                      call: Call, deadline: Deadline) -> AsyncIterator[dict]:
        used = Usage(self.metrics, req.model, call.tenant, stream=True, on_usage=call.on_usage)
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        chunks = Chunks(call.answer_id, req.model, include_usage)
        choices = [_Choice(i) for i in range(len(prompts) * req.n)]
        finished = False
        try:
            async for delta in self._deltas(req, choices, prompts, max_tokens, call, deadline):
                if not delta.text and delta.finish_reason is None and delta.logprobs is None:
                    continue
                used.text(delta.text)
                yield chunks.choice(delta.index, delta.text, delta.logprobs, delta.finish_reason)
            finished = True
        finally:  # superseded, cancelled or timed out too: charged for what the engine did
            usage = used.record([c.result for c in choices], req.n, finished)
        if include_usage:
            yield chunks.usage(usage)
