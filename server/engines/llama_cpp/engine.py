"""`LlamaCppEngine`: the Engine protocol on the step loop.

`generate` puts a job in the step loop's queue and streams what the worker
thread hands back. A newer request of the same session (already scoped by
the tenant) supersedes the older one at once: its flag is set, the step loop
drops it at its next step, and its consumer gets `Superseded` (409). Closing
the stream (the client left, a filter saw enough) sets the same flag.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from ..base import GeneratedToken, GenerationRequest, GenerationResult
from ..common import EngineBase, next_token
from ..healing import Healer
from ..vocab import GgufVocabulary
from .decoding import Decoder
from .costs import probe
from .jobs import DONE, Job
from .scheduler import StepLoop
from .slots import Slots
from .states import _SessionStates
from .stats import EngineStats

log = logging.getLogger("codefill.engine.llama_cpp")

# llama.cpp's limit on sequences in one context (LLAMA_MAX_SEQ).
MAX_SEQUENCES = 256


def check_settings(*, n_ctx: int, sequences: int, step_tokens: int, n_batch: int) -> None:
    """Refuse settings the engine cannot run with, saying why (ValueError)."""
    if not 1 <= sequences <= MAX_SEQUENCES:
        raise ValueError(f"--sequences {sequences}: must be between 1 and {MAX_SEQUENCES} (llama.cpp's limit)")
    if step_tokens < sequences:
        raise ValueError(f"--step-tokens {step_tokens} is less than --sequences {sequences}: every generating "
                         "sequence needs one token of each step's budget")
    if step_tokens > n_batch:
        raise ValueError(f"--step-tokens {step_tokens} is more than --n-batch {n_batch}, the most tokens "
                         "llama.cpp evaluates in one step")


@dataclass(frozen=True)
class LlamaCppOptions:
    """The engine's settings, with their defaults (`codefill serve` passes its own, engines/factory.py)."""

    n_ctx: int = 4096  # each sequence's window
    n_threads: int | None = None  # None: every core
    n_batch: int = 256  # the most tokens one step evaluates
    flash_attn: bool = False
    session_cache_bytes: int = 512 * 1024 * 1024  # idle sessions' KV states in RAM
    # Speculative decoding with prompt-lookup drafts (greedy requests only); 0: off.
    draft_max: int = 0
    draft_ngram_min: int = 3
    cold_saving: int = 192  # scheduler.py: the least a cold window must save to be used
    grow_after: float = 0.25  # a cold window grows once the engine has had no request for this long
    sequences: int = 8  # requests decoded at once, one batch per step
    step_tokens: int = 128  # each step's token budget

    def __post_init__(self) -> None:
        check_settings(n_ctx=self.n_ctx, sequences=self.sequences, step_tokens=self.step_tokens,
                       n_batch=self.n_batch)

    @property
    def threads(self) -> int:
        return self.n_threads or os.cpu_count() or 1


class LlamaCppEngine(EngineBase):
    """`options`: `LlamaCppOptions`' fields by name (a ValueError says which settings cannot run)."""

    # The serving layer sends a cold window with long prompts (see scheduler.py).
    uses_cold_window = True

    def __init__(self, model_path: str | Path, *, model_id: str, family: str | None = None, **options) -> None:
        self.options = o = LlamaCppOptions(**options)
        super().__init__(model_id=model_id, family=family)
        self._path = Path(model_path)
        self._sessions = _SessionStates(o.session_cache_bytes)
        self._llm = None
        self._context = None
        self._loop: StepLoop | None = None
        self._worker: threading.Thread | None = None
        self._healer: Healer | None = None
        self._stats = EngineStats()

    # -- lifecycle -----------------------------------------------------------

    @property
    def max_sequences(self) -> int:
        """How many requests run at once; more wait in the engine's own queue."""
        return self.options.sequences

    async def start(self) -> None:
        started = time.monotonic()
        await asyncio.to_thread(self._load)
        self._worker = threading.Thread(target=self._loop.run, name="llama-cpp-steps", daemon=True)
        self._worker.start()
        # The deadline planner's first costs (the step loop keeps them up to date while serving), measured
        # on the worker thread before any request: llama.cpp's compute threads belong to the thread that
        # calls it, and a second set, left spinning by a call from another thread, halves every step.
        # Start returns once they are measured: the first requests are planned with this machine's costs.
        # The loop measures again when idle after dropping requests as infeasible (scheduler.py `remeasure`).
        token = max(self._llm.token_bos(), 0)

        def measure(table: bool = False) -> None:  # again (when idle): the step of one, the table's shape kept
            probe(self._context, self._loop.costs, token=token, table=table)
            log.info("step costs: %s", self._loop.costs.snapshot())

        measured: concurrent.futures.Future[None] = concurrent.futures.Future()

        def first() -> None:
            try:
                measure(table=True)
            finally:
                measured.set_result(None)

        self._loop.measure = measure
        self._loop.jobs.put(first)
        await asyncio.wrap_future(measured)
        # The model's identity is published last, and with it the engine is ready: until the probe is done
        # /ready says 503 and requests are refused, so the probe (~0.75 s of every core) does not compute
        # beside what a readiness check lets in (the first requests, or another server whose run it slowed:
        # docs/BENCHMARKS.md, "The first run's outliers"), and nothing beside it inflates what it measures.
        o = self.options
        arch = self._llm.metadata.get("general.architecture")
        family = self._identify(arch, path=self._path, n_ctx=o.n_ctx)
        log.info(
            "loaded %s (%s, family %s, n_ctx %d, %d sequences, %d KV cells, %d tokens a step) and measured "
            "its step costs in %.1fs", self._path.name, arch, family.name, o.n_ctx, o.sequences,
            self._context.n_cells, o.step_tokens, time.monotonic() - started,
        )

    def _load(self) -> None:
        from llama_cpp import Llama

        from .context import Context

        # The vocabulary (tokenizing happens on the event loop), and the weights in a context of many sequences.
        llm = Llama(model_path=str(self._path), vocab_only=True, verbose=False)
        self._llm = llm
        self._vocab = GgufVocabulary(llm=llm)
        self._healer = Healer(_pieces(llm))
        # Every sequence gets a whole window's cells of its own (context.py).
        o = self.options
        self._context = Context(self._path, n_cells=o.sequences * o.n_ctx, n_seq=o.sequences, n_batch=o.n_batch,
                                n_threads=o.threads, flash_attn=o.flash_attn)
        slots = Slots(o.sequences, self._context, self._sessions, self._stats.counters)
        self._loop = StepLoop(self._context, slots, n_ctx=o.n_ctx, step_tokens=o.step_tokens,
                              cold_saving=o.cold_saving, new_decoder=self._decoder, stats=self._stats,
                              grow_after=o.grow_after)

    async def close(self) -> None:
        if self._worker is not None:
            self._loop.jobs.put(None)
            await asyncio.to_thread(self._worker.join, 10)
            self._worker = None
        if self._context is not None:
            self._context.close()
            self._context = None
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    @property
    def stats(self) -> dict[str, int]:
        """Counters and gauges for the metrics endpoint (histograms: `step_histograms`)."""
        loop = self._loop
        gauges = {"growth_pending": 0, "sequences_in_use": 0, "kv_cells_in_use": 0, "waiting": 0,
                  "sequences": self.options.sequences}
        if loop is not None:
            gauges.update(growth_pending=int(loop.growth is not None), sequences_in_use=loop.slots.busy(),
                          kv_cells_in_use=loop.slots.cells(), waiting=len(loop.waiting) + loop.jobs.qsize())
        return {**self._stats.counters, **gauges}

    def cache_stats(self) -> dict:
        """Sequences and idle sessions' states in RAM, for the admin API."""
        stats = self.stats
        return {"sequences": self.options.sequences, "sequences_in_use": stats["sequences_in_use"],
                "kv_cells_in_use": stats["kv_cells_in_use"], "saved_states": len(self._sessions),
                "saved_bytes": self._sessions.bytes, "max_bytes": self._sessions.max_bytes}

    async def drop_cache(self, *, salt: str | None = None, session: str | None = None) -> int:
        """Forget the KV states of a cache salt (all its sessions) or of one session, in the
        context and in RAM; done by the step loop between steps. Returns how many went."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[int] = loop.create_future()

        def drop() -> None:
            try:
                n = self._loop.drop(salt, session)
                loop.call_soon_threadsafe(lambda: done.done() or done.set_result(n))
            except Exception as exc:  # reported to the caller, never kills the worker
                loop.call_soon_threadsafe(lambda e=exc: done.done() or done.set_exception(e))

        self._loop.jobs.put(drop)
        return await done

    @property
    def step_histograms(self):
        return self._stats.histograms

    # -- vocabulary: the GGUF's, in EngineBase; healing ----------------------

    def heal_text(self, prompt: str) -> str:
        return self._healer.heal_text(self.tokenize, prompt) if self._healer is not None else ""

    def _decoder(self, request: GenerationRequest, result: GenerationResult, prompt: list[int]) -> Decoder:
        import llama_cpp

        vocab = self._llm._model.vocab
        return Decoder(request, result, prompt, healer=self._healer, stop_ids=self._eog_ids,
                       is_eog=lambda t: llama_cpp.llama_vocab_is_eog(vocab, t),
                       piece=lambda t: self._llm.detokenize([t]),
                       top_text=lambda t: self._llm.detokenize([t]).decode("utf-8", errors="replace"),
                       draft_max=self.options.draft_max, draft_ngram_min=self.options.draft_ngram_min)

    # -- generation ----------------------------------------------------------

    async def generate(self, request: GenerationRequest, result: GenerationResult) -> AsyncIterator[GeneratedToken]:
        self._require_ready()
        job = Job(request, result, asyncio.get_running_loop(), asyncio.Queue())
        older = self._latest.enter(request.session, job, supersede=request.supersede)
        if older is not None:
            older.cancelled.set()  # the step loop drops it at its next step
        self._loop.jobs.put(job)
        try:
            while (token := await next_token(job, DONE)) is not None:
                yield token
        finally:
            # Runs when the consumer stops early too (aclose, task cancelled):
            # the step loop drops the request at its next step.
            job.cancelled.set()
            self._latest.leave(request.session, job)


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
