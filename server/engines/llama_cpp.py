"""The embedded default engine: llama.cpp through llama-cpp-python, on the CPU.

One `Llama` context does all the work, so requests take turns: a single
worker thread runs them one after another while the event loop stays free
(`/health` answers during a long generation; llama.cpp releases the GIL while
it computes). The context keeps its KV cache between requests, and a request
only evaluates the tokens its prompt does not share with the previous one.

Prefill runs in chunks of `n_batch` tokens and generation one token at a time;
between any two, the worker checks whether the request was cancelled, so a
client that leaves stops the work within one chunk or one token.

Cold window: a request may carry a shorter version of its prompt
(`GenerationRequest.cold_tokens`, the last few hundred tokens before the
cursor). When the cache holds so little of the full prompt that evaluating
it would cost more than `cold_saving` tokens beyond the short one, the short
one is answered instead, and the full prompt is remembered. Once no request
has come for `grow_after` seconds, the worker evaluates that full prompt in
small chunks, stopping at once when a request arrives; the short window's
state is kept aside meanwhile, so an interrupted growth costs nothing. When
it is done, the next keystroke there reuses the full window.
"""

from __future__ import annotations

import asyncio
import codecs
import ctypes
import logging
import math
import os
import queue
import random
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .base import GeneratedToken, GenerationRequest, GenerationResult, ModelInfo, Superseded
from .healing import Healer, best_allowed
from .lookup import PromptLookup
from .vocab import GgufVocabulary

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("codefill.engine.llama_cpp")

_DONE = object()


@dataclass
class _Job:
    request: GenerationRequest
    result: GenerationResult
    loop: asyncio.AbstractEventLoop
    out: asyncio.Queue
    cancelled: threading.Event = field(default_factory=threading.Event)
    superseded: bool = False

    def emit(self, item) -> None:
        try:
            self.loop.call_soon_threadsafe(self.out.put_nowait, item)
        except RuntimeError:  # event loop closed: nobody is listening any more
            self.cancelled.set()


@dataclass
class _SavedSession:
    tokens: list[int]
    kv: bytes | np.ndarray  # llama.cpp's state of sequence 0: the KV cells of `tokens` (uint8)


# Whose tokens a KV state holds: the cache salt (the tenant, or a group of
# tenants that may share), an editor session (None: requests without one) and
# which of its prompts, the full window ("full") or the cold one ("cold").
# States of different salts are never reused for one another.
_Key = tuple[str | None, str | None, str]
# Tokens evaluated per step of a background growth (a request that arrives
# meanwhile waits for at most one step: ~0.1 s here).
GROW_CHUNK = 64


class _SessionStates:
    """Each idle editor session's KV states (its full and its cold window),
    least recently used evicted first once they take more than `max_bytes` together."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._states: OrderedDict[str, _SavedSession] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._states)

    def keys(self) -> list[_Key]:
        return list(self._states)

    def peek(self, session: _Key) -> _SavedSession | None:
        return self._states.get(session)

    def take(self, session: _Key) -> _SavedSession | None:
        state = self._states.pop(session, None)
        if state is not None:
            self.bytes -= len(state.kv)
        return state

    def put(self, session: _Key, state: _SavedSession) -> None:
        self.take(session)
        if len(state.kv) > self.max_bytes:
            return
        self._states[session] = state
        self.bytes += len(state.kv)
        while self.bytes > self.max_bytes:
            _, evicted = self._states.popitem(last=False)
            self.bytes -= len(evicted.kv)


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class LlamaCppEngine:
    # The serving layer sends a cold window with long prompts (see the module's docstring).
    uses_cold_window = True
    # One context, one request at a time: the serving layer's fair queue holds the others.
    max_sequences = 1

    def __init__(
        self,
        model_path: str | Path,
        *,
        model_id: str,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 256,
        flash_attn: bool = False,
        family: str | None = None,
        session_cache_bytes: int = 512 * 1024 * 1024,
        draft_max: int = 0,
        draft_ngram_min: int = 3,
        cold_saving: int = 192,
        grow_after: float = 0.25,
    ) -> None:
        self._path = Path(model_path)
        self._model_id = model_id
        self._n_ctx = n_ctx
        self._n_threads = n_threads or os.cpu_count() or 1
        self._n_batch = n_batch
        self._flash_attn = flash_attn
        self._family_override = family
        # Speculative decoding with prompt-lookup drafts (greedy requests only); 0: off.
        self._draft_max = draft_max
        self._draft_ngram_min = draft_ngram_min
        self._llm = None
        self._info: ModelInfo | None = None
        self._jobs: queue.Queue = queue.Queue()  # _Job, an admin task (callable) or None (stop)
        self._worker: threading.Thread | None = None
        self._eog_ids: frozenset[int] = frozenset()
        self._healer: Healer | None = None
        # Cold window: the short prompt is answered when it saves more than this many tokens of prefill.
        self._cold_saving = cold_saving
        self._grow_after = grow_after
        # Worker thread only: whose tokens the context holds, the others' saved
        # states, and the full prompt to evaluate in idle time (session, tokens).
        self._active: _Key | None = None
        self._sessions = _SessionStates(session_cache_bytes)
        self._growth: tuple[str | None, str | None, list[int]] | None = None
        # Read by the metrics endpoint (`stats`).
        self._stats = {"windows_grown": 0, "grown_tokens": 0}
        # Event loop only: the newest job of each session.
        self._latest: dict[str, _Job] = {}

    # -- lifecycle -----------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._info is not None

    @property
    def info(self) -> ModelInfo:
        if self._info is None:
            raise RuntimeError("the model is still loading")
        return self._info

    async def start(self) -> None:
        await asyncio.to_thread(self._load)
        self._worker = threading.Thread(target=self._work, name="llama-cpp-worker", daemon=True)
        self._worker.start()

    def _load(self) -> None:
        from llama_cpp import Llama

        from codefill.models.families import detect_family, get_family

        started = time.monotonic()
        llm = Llama(
            model_path=str(self._path),
            n_ctx=self._n_ctx,
            n_batch=self._n_batch,
            flash_attn=self._flash_attn,
            n_threads=self._n_threads,
            n_threads_batch=self._n_threads,
            verbose=False,
        )
        self._llm = llm
        self._vocab = GgufVocabulary(llm=llm)
        self._healer = Healer(_pieces(llm))
        arch = llm.metadata.get("general.architecture")
        family = get_family(self._family_override) if self._family_override else detect_family(self, arch)
        self._eog_ids = frozenset(
            t for t in (self._single_special(s) for s in family.stop_tokens) if t is not None
        )
        self._family = family
        self._info = ModelInfo(
            id=self._model_id,
            path=str(self._path),
            n_ctx=llm.n_ctx(),
            architecture=arch,
            family=family.name,
            created=int(self._path.stat().st_mtime),
        )
        log.info(
            "loaded %s (%s, family %s, n_ctx %d) in %.1fs",
            self._path.name, arch, family.name, llm.n_ctx(), time.monotonic() - started,
        )

    async def close(self) -> None:
        if self._worker is not None:
            self._jobs.put(None)
            await asyncio.to_thread(self._worker.join, 10)
            self._worker = None
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    def cache_stats(self) -> dict:
        """The saved session states, for the admin API."""
        return {"saved_states": len(self._sessions), "saved_bytes": self._sessions.bytes,
                "max_bytes": self._sessions.max_bytes}

    async def drop_cache(self, *, salt: str | None = None, session: str | None = None) -> int:
        """Forget the KV states of a cache salt (all its sessions) or of one
        session; done by the worker between requests. Returns how many went."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[int] = loop.create_future()

        def drop() -> None:
            try:
                n = self._drop(salt, session)
                loop.call_soon_threadsafe(lambda: done.done() or done.set_result(n))
            except Exception as exc:  # reported to the caller, never kills the worker
                loop.call_soon_threadsafe(lambda e=exc: done.done() or done.set_exception(e))

        self._jobs.put(drop)
        return await done

    def _drop(self, salt: str | None, session: str | None) -> int:
        def matches(key: _Key) -> bool:
            return key[1] == session if session is not None else key[0] == salt

        keys = [k for k in self._sessions.keys() if matches(k)]
        for key in keys:
            self._sessions.take(key)
        if self._active is not None and matches(self._active):
            self._llm.n_tokens = 0
            self._active = None
            keys.append(None)
        if self._growth is not None and matches((*self._growth[:2], "full")):
            self._growth = None
        return len(keys)

    @property
    def stats(self) -> dict[str, int]:
        """Background work for the metrics endpoint: cold windows grown, tokens
        evaluated for them, and whether a growth is waiting for idle time."""
        return {**self._stats, "growth_pending": int(self._growth is not None)}

    # -- vocabulary ----------------------------------------------------------

    @property
    def n_vocab(self) -> int:
        return self._llm.n_vocab()

    def tokenize(self, text: str, *, special: bool = False, add_bos: bool = False) -> list[int]:
        return self._vocab.tokenize(text, special=special, add_bos=add_bos)

    def detokenize(self, tokens: list[int]) -> str:
        return self._vocab.detokenize(tokens)

    def heal_text(self, prompt: str) -> str:
        return self._healer.heal_text(self.tokenize, prompt) if self._healer is not None else ""

    def _single_special(self, text: str) -> int | None:
        return self._vocab.special_token(text)

    def has_special_token(self, text: str) -> bool:
        return self._single_special(text) is not None

    @property
    def family_stop_ids(self) -> frozenset[int]:
        return self._eog_ids

    # -- generation ----------------------------------------------------------

    async def generate(self, request: GenerationRequest, result: GenerationResult) -> AsyncIterator[GeneratedToken]:
        if not self.ready:
            raise RuntimeError("the model is still loading")
        job = _Job(request, result, asyncio.get_running_loop(), asyncio.Queue())
        session = request.session
        if session is not None:
            older = self._latest.get(session)
            if older is not None:
                older.superseded = True
                older.cancelled.set()
            self._latest[session] = job
        self._jobs.put(job)
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
            # Runs when the consumer stops early too (aclose, task cancelled):
            # the worker sees the flag before its next token.
            job.cancelled.set()
            if session is not None and self._latest.get(session) is job:
                del self._latest[session]

    def _work(self) -> None:
        while True:
            if self._growth is None:
                job = self._jobs.get()
            else:
                try:
                    job = self._jobs.get(timeout=self._grow_after)
                except queue.Empty:
                    try:
                        self._grow()
                    except Exception:
                        log.exception("growing a cold window failed")
                        self._growth = None
                    continue
            if job is None:
                return
            if callable(job):  # an admin task (drop_cache) between requests
                job()
                continue
            if job.cancelled.is_set():
                job.result.finish_reason = "cancelled"
                job.emit(_DONE)
                continue
            try:
                self._run(job)
            except Exception as exc:  # reported to the waiting request, never kills the worker
                log.exception("generation failed")
                job.emit(exc)
            job.emit(_DONE)

    def _prefill(self, job: _Job, tokens: list[int]) -> bool:
        """Evaluate what the KV cache lacks of `tokens`; False if cancelled."""
        llm = self._llm
        common = _common_prefix(llm.input_ids[: llm.n_tokens].tolist(), tokens)
        # The last prompt token is always evaluated so its logits are fresh.
        common = min(common, len(tokens) - 1)
        job.result.cached_prompt_tokens = common
        llm.n_tokens = common
        for start in range(common, len(tokens), self._n_batch):
            if job.cancelled.is_set():
                # What was evaluated so far stays valid cache for the next request.
                return False
            llm.eval(tokens[start : start + self._n_batch])
        return True

    def _place(self, req: GenerationRequest) -> tuple[list[int], bool]:
        """Choose the prompt to evaluate, the full one or the cold window, and
        bring the KV state that holds most of it into the context: the
        context's own, or one put aside for this session. Two people typing do
        not evict each other, and the context keeps what it holds when that
        serves better (two sessions in the same file). Returns the tokens and
        whether they are the cold window."""
        llm = self._llm
        current = llm.input_ids[: llm.n_tokens].tolist()
        options = {"full": list(req.prompt_tokens)}
        if req.cold_tokens:
            options["cold"] = list(req.cold_tokens)
        costs = {}  # kind: (tokens to evaluate, saved state to restore or None)
        # The context's tokens serve only requests of the same salt (another tenant's are not reused).
        same_salt = self._active is None or self._active[0] == req.cache_salt
        for kind, tokens in options.items():
            saved = self._sessions.peek((req.cache_salt, req.session, kind))
            here = _common_prefix(current, tokens) if same_salt else 0
            there = _common_prefix(saved.tokens, tokens) if saved is not None else -1
            costs[kind] = (len(tokens) - max(here, there), saved if there > here else None)
        kind = "full"
        if "cold" in costs and costs["full"][0] - costs["cold"][0] > self._cold_saving:
            kind = "cold"
        self._hold((req.cache_salt, req.session, kind), costs[kind][1])
        if kind == "cold":
            self._growth = (req.cache_salt, req.session, options["full"])
        elif self._growth is not None and self._growth[:2] == (req.cache_salt, req.session):
            self._growth = None
        return options[kind], kind == "cold"

    def _hold(self, key: _Key, saved: _SavedSession | None) -> None:
        """Make the context hold `key`'s tokens: what it holds now is put aside
        for its owner, and `saved` (one of `key`'s saved states) is brought
        back; without one, the context's tokens stay as a start that the next
        evaluation keeps as far as it shares them."""
        if key == self._active and saved is None:
            return
        llm = self._llm
        current = llm.input_ids[: llm.n_tokens].tolist()
        if saved is not None:
            self._sessions.take(key)
        if self._active is not None and current:
            self._sessions.put(self._active, self._save_kv(current))
        if saved is not None:
            self._restore_kv(saved)
        elif self._active is not None and self._active[0] != key[0]:
            llm.n_tokens = 0  # another salt's tokens: nothing of them is reused
        self._active = key

    def _grow(self) -> None:
        """Evaluate the full prompt of the last request answered from its cold
        window, in idle time, a chunk at a time, until a request arrives."""
        salt, session, target = self._growth
        llm = self._llm
        key = (salt, session, "full")
        if self._active != key:
            self._hold(key, self._sessions.peek(key))
        common = _common_prefix(llm.input_ids[: llm.n_tokens].tolist(), target)
        llm.n_tokens = common
        for start in range(common, len(target), GROW_CHUNK):
            if not self._jobs.empty():
                return  # what is evaluated so far stays; the rest waits for the next pause
            chunk = target[start : start + GROW_CHUNK]
            llm.eval(chunk)
            self._stats["grown_tokens"] += len(chunk)
        self._growth = None
        self._stats["windows_grown"] += 1
        log.debug("grew a cold window to its full %d tokens", len(target))

    def _save_kv(self, tokens: list[int]) -> _SavedSession:
        import llama_cpp
        import numpy as np

        ctx = self._llm._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        # An uninitialised array, handed to llama.cpp and kept as it is: ctypes
        # arrays and bytes would zero-fill and copy ~20 MB two more times (~30 ms a switch).
        buf = np.empty(size, dtype=np.uint8)
        written = llama_cpp.llama_state_seq_get_data(ctx, buf.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)),
                                                     size, 0)
        return _SavedSession(tokens, buf[:written])

    def _restore_kv(self, saved: _SavedSession) -> None:
        import llama_cpp
        import numpy as np

        llm = self._llm
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)  # set_data adds cells; the old ones must go first
        kv = np.frombuffer(saved.kv, dtype=np.uint8)
        ptr = kv.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))
        if llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, ptr, len(kv), 0) == 0:
            log.warning("could not restore a session's KV state; recomputing it")
            llm.n_tokens = 0
            return
        llm.input_ids[: len(saved.tokens)] = saved.tokens
        llm.n_tokens = len(saved.tokens)

    def _run(self, job: _Job) -> None:
        llm = self._llm
        req = job.request
        result = job.result
        tokens, result.cold_window = self._place(req)
        result.prompt_tokens = len(tokens)
        if not self._prefill(job, tokens):
            result.finish_reason = "cancelled"
            return
        if req.max_tokens == 0:
            result.finish_reason = "length"
            return
        s = req.sampling
        stop_ids = req.stop_token_ids | self._eog_ids
        heal = self._healer.extensions(req.heal.encode("utf-8")) if req.heal and self._healer else None
        if s.temperature == 0 and req.top_logprobs is None and not (s.presence_penalty or s.frequency_penalty):
            self._emit_tokens(job, self._greedy(job, tokens, heal), stop_ids)
            return
        llm.set_seed(s.seed if s.seed is not None else random.randrange(2**31))
        sampled = llm.generate(
            tokens,
            top_k=0,
            top_p=s.top_p,
            min_p=0.0,
            typical_p=1.0,
            temp=s.temperature,
            repeat_penalty=1.0,
            frequency_penalty=s.frequency_penalty,
            presence_penalty=s.presence_penalty,
            logits_processor=None if heal is None else [_FirstTokenAmong(heal)],
        )
        self._emit_tokens(job, sampled, stop_ids)

    def _emit_tokens(self, job: _Job, tokens: Iterator[int], stop_ids: frozenset[int]) -> None:
        """Hand generated tokens to the request until a stop, the limit or a cancel."""
        import llama_cpp

        req, result, llm = job.request, job.result, self._llm
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        vocab = llm._model.vocab
        generated = 0
        healed = req.heal.encode("utf-8")
        try:
            for token in tokens:
                if job.cancelled.is_set():
                    result.finish_reason = "cancelled"
                    return
                if token in stop_ids or llama_cpp.llama_vocab_is_eog(vocab, token):
                    result.finish_reason = "stop"
                    return
                generated += 1
                result.completion_tokens = generated
                logprob, top = (self._logprobs(token, req.top_logprobs) if req.top_logprobs is not None
                                else (None, None))
                if healed:  # the first token begins with what the prompt gave back: not the answer's
                    piece, healed = self._healer.piece(token)[len(healed):], b""
                else:
                    piece = llm.detokenize([token])
                text = decoder.decode(piece)
                job.emit(GeneratedToken(token, text, logprob, top))
                if generated >= req.max_tokens:
                    result.finish_reason = "length"
                    return
        finally:
            close = getattr(tokens, "close", None)
            if close is not None:
                close()

    def _greedy(self, job: _Job, prompt: list[int], heal=None) -> Iterator[int]:
        """Greedy decoding, with prompt-lookup drafts checked a batch at a time
        when speculation is on. Yields each token before it is evaluated (the
        caller may stop there); the context then holds exactly the evaluated
        tokens, so the next request's prefix reuse stays exact."""
        import llama_cpp
        import numpy as np

        llm, result = self._llm, job.result
        ctx = llm._ctx.ctx
        n_vocab = llm.n_vocab()

        def logits(i: int):
            return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, i), shape=(n_vocab,))

        def best(i: int) -> int:
            return int(logits(i).argmax())

        lookup = None
        if self._draft_max > 0:
            lookup = PromptLookup(prompt, job.request.lookup_tokens, ngram_min=self._draft_ngram_min,
                                  draft_max=self._draft_max, max_new=job.request.max_tokens + 16)
        token = best(-1) if heal is None else best_allowed(logits(-1), heal)
        while True:
            yield token
            drafts: list[int] = []
            if lookup is not None:
                lookup.append(token)
                room = min(self._n_ctx - llm.n_tokens, self._n_batch) - 1
                drafts = lookup.propose()[: max(room, 0)]
            batch = [token, *drafts]
            n_past = llm.n_tokens
            if n_past + len(batch) > self._n_ctx:
                return  # the context is full
            llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
            llm._batch.set_batch(batch=batch, n_past=n_past, logits_all=bool(drafts))
            llm._ctx.decode(llm._batch)
            llm.input_ids[n_past : n_past + len(batch)] = batch
            if not drafts:
                llm.n_tokens = n_past + 1
                token = best(-1)
                continue
            # Row i holds the logits after batch[i]: draft i+1 is kept while it is the model's own pick.
            picks = [best(0)]
            while len(picks) <= len(drafts) and picks[-1] == drafts[len(picks) - 1]:
                picks.append(best(len(picks)))
            accepted = picks[:-1]
            result.draft_tokens += len(drafts)
            result.accepted_draft_tokens += len(accepted)
            llm.n_tokens = n_past + 1 + len(accepted)
            if len(accepted) < len(drafts):
                llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
            for t in accepted:
                yield t
                lookup.append(t)
            token = picks[-1]

    def _logprobs(self, token: int, top_n: int) -> tuple[float, dict[str, float] | None]:
        """Log-probabilities from the logits that produced `token`."""
        import llama_cpp
        import numpy as np

        llm = self._llm
        n_vocab = llm.n_vocab()
        ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
        logits = np.ctypeslib.as_array(ptr, shape=(n_vocab,)).astype(np.float64)
        top_logit = logits.max()
        log_z = top_logit + math.log(np.exp(logits - top_logit).sum())
        logprob = float(logits[token] - log_z)
        if top_n <= 0:
            return logprob, {}
        best = np.argpartition(-logits, top_n)[:top_n]
        top = {}
        for t in sorted(best, key=lambda i: -logits[i]):
            top[llm.detokenize([int(t)]).decode("utf-8", errors="replace")] = float(logits[t] - log_z)
        return logprob, top


def _pieces(llm) -> dict[int, bytes]:
    """Each ordinary token's text as bytes (control tokens left out), for token healing."""
    import llama_cpp

    vocab = llm._model.vocab
    buf = ctypes.create_string_buffer(256)
    out = {}
    for token in range(llm.n_vocab()):
        if llama_cpp.llama_vocab_is_control(vocab, token) or llama_cpp.llama_vocab_is_eog(vocab, token):
            continue
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, len(buf), 0, False)
        if n > 0:
            out[token] = buf.raw[:n]
    return out


class _FirstTokenAmong:
    """A llama-cpp-python logits processor: the first token is one of `allowed` (token healing)."""

    def __init__(self, allowed) -> None:
        self.allowed = allowed
        self.first = True

    def __call__(self, input_ids, scores):
        import numpy as np

        if self.first:
            self.first = False
            masked = np.full_like(scores, -np.inf)
            masked[self.allowed] = scores[self.allowed]
            return masked
        return scores
