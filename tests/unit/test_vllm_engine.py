"""VllmEngine's adaptation of vLLM's AsyncLLM, with a scripted AsyncLLM (no
vLLM in the main environment): stop tokens, max_tokens 0, abort when the
consumer stops, supersede. The real thing runs in tests/vllm."""

from __future__ import annotations

import asyncio
import sys
import types
from dataclasses import dataclass, field

import pytest

from codefill.server.engines.base import GenerationRequest, GenerationResult, ModelInfo, Superseded
from codefill.server.engines.vllm import VllmEngine


@dataclass
class _Completion:
    token_ids: list[int]
    text: str
    finish_reason: str | None = None
    logprobs: list | None = None


@dataclass
class _Output:
    outputs: list
    finished: bool = False
    num_cached_tokens: int = 0


@dataclass
class FakeAsyncLLM:
    """Streams `script` (lists of (token ids, text)) one delta per step; abort ends the stream."""

    script: list[tuple[list[int], str]]
    finish: str = "stop"
    aborted: list[str] = field(default_factory=list)
    params: list = field(default_factory=list)
    running: set[str] = field(default_factory=set)
    prompts: list = field(default_factory=list)
    resets: int = 0

    async def generate(self, prompt, params, request_id):
        self.prompts.append(prompt)
        self.params.append(params)
        self.running.add(request_id)
        for i, (ids, text) in enumerate(self.script):
            await asyncio.sleep(0.01)
            if request_id in self.aborted:
                yield _Output([_Completion([], "", "abort")], finished=True)
                return
            last = i == len(self.script) - 1
            yield _Output([_Completion(ids, text, self.finish if last else None)], finished=last,
                          num_cached_tokens=16)
        self.running.discard(request_id)

    async def abort(self, request_id):
        self.aborted.append(request_id)
        self.running.discard(request_id)

    def get_num_unfinished_requests(self):
        return len(self.running)

    async def reset_prefix_cache(self):
        self.resets += 1
        return True


@pytest.fixture(autouse=True)
def fake_vllm(monkeypatch):
    vllm = types.ModuleType("vllm")
    vllm.SamplingParams = lambda **kw: types.SimpleNamespace(**kw)
    sampling = types.ModuleType("vllm.sampling_params")
    sampling.RequestOutputKind = types.SimpleNamespace(DELTA="delta")
    inputs = types.ModuleType("vllm.inputs")
    inputs.TokensPrompt = dict
    arg_utils = types.ModuleType("vllm.engine.arg_utils")
    arg_utils.AsyncEngineArgs = lambda **kw: types.SimpleNamespace(**kw)
    loggers = types.ModuleType("vllm.v1.metrics.loggers")
    loggers.StatLoggerBase = object
    for name, module in {"vllm": vllm, "vllm.sampling_params": sampling, "vllm.inputs": inputs,
                         "vllm.engine": types.ModuleType("vllm.engine"), "vllm.engine.arg_utils": arg_utils,
                         "vllm.v1": types.ModuleType("vllm.v1"), "vllm.v1.metrics": types.ModuleType("vllm.v1.metrics"),
                         "vllm.v1.metrics.loggers": loggers}.items():
        monkeypatch.setitem(sys.modules, name, module)


def _engine(llm: FakeAsyncLLM) -> VllmEngine:
    engine = VllmEngine("/models/x", model_id="x")
    engine._llm = llm
    engine._info = ModelInfo("x", "/models/x", 4096, "llama", "none", 0)
    engine._eog_ids = frozenset({2})
    return engine


async def _collect(engine, request, result) -> str:
    return "".join([t.text async for t in engine.generate(request, result)])


async def test_end_tokens_end_the_text_and_are_not_counted():
    llm = FakeAsyncLLM([([5, 6], "ab"), ([7, 2], "c")])
    result = GenerationResult()
    engine = _engine(llm)
    engine._eog_ids = frozenset({2, 9})  # the model's end token and a family's
    text = await _collect(engine, GenerationRequest([1, 2, 3], 16), result)
    assert text == "abc"
    assert (result.completion_tokens, result.finish_reason, result.cached_prompt_tokens) == (3, "stop", 16)
    assert llm.params[0].stop_token_ids == [2, 9] and llm.params[0].output_kind == "delta"


async def test_max_tokens_zero_shows_nothing_and_asks_vllm_for_one():
    llm = FakeAsyncLLM([([5], "a")], finish="length")
    result = GenerationResult()
    assert await _collect(_engine(llm), GenerationRequest([1, 2, 3], 0), result) == ""
    assert llm.params[0].max_tokens == 1
    assert (result.completion_tokens, result.finish_reason) == (0, "length")


async def test_a_consumer_that_stops_aborts_the_vllm_request():
    llm = FakeAsyncLLM([([5], "a"), ([6], "b"), ([7], "c"), ([8], "d")])
    engine = _engine(llm)
    result = GenerationResult()
    stream = engine.generate(GenerationRequest([1], 16, request_id="r1"), result)
    assert (await anext(stream)).text == "a"
    await stream.aclose()
    assert len(llm.aborted) == 1 and llm.aborted[0].startswith("r1-")
    assert engine.aborted == 1 and result.finish_reason == "cancelled"
    assert llm.get_num_unfinished_requests() == 0


async def test_a_finished_request_is_not_aborted():
    llm = FakeAsyncLLM([([5], "a")])
    engine = _engine(llm)
    await _collect(engine, GenerationRequest([1], 16), GenerationResult())
    assert llm.aborted == [] and engine.aborted == 0


async def test_a_newer_request_of_the_session_supersedes_the_older():
    llm = FakeAsyncLLM([([5], "a"), ([6], "b"), ([7], "c")])
    engine = _engine(llm)
    older = engine.generate(GenerationRequest([1], 16, request_id="old", session="s"), GenerationResult())
    assert (await anext(older)).text == "a"
    newer_result = GenerationResult()
    newer = asyncio.create_task(_collect(engine, GenerationRequest([1], 16, request_id="new", session="s"),
                                         newer_result))
    await asyncio.sleep(0)  # the newer request has started: the older one is aborted
    with pytest.raises(Superseded):
        async for _ in older:
            pass
    assert await newer == "abc" and newer_result.finish_reason == "stop"
    assert [r.split("-")[0] for r in llm.aborted] == ["old"]


async def test_other_sessions_do_not_supersede_each_other():
    llm = FakeAsyncLLM([([5], "a"), ([6], "b")])
    engine = _engine(llm)
    texts = await asyncio.gather(*(_collect(engine, GenerationRequest([1], 16, session=s), GenerationResult())
                                   for s in ("alice", "bob")))
    assert texts == ["ab", "ab"] and llm.aborted == []


def test_engine_args_carry_codefills_options():
    from codefill.server.engines.vllm import VllmOptions

    options = VllmOptions(max_model_len=2048, tensor_parallel_size=2, quantization="awq", speculative="ngram",
                          num_speculative_tokens=3, gpu_memory_utilization=0.5, max_num_seqs=8, enforce_eager=True)
    engine = VllmEngine("/models/x", model_id="x", options=options)
    args = engine.engine_args()
    assert args.enable_prefix_caching is True and args.max_num_seqs == 8 and engine.max_sequences == 8
    assert (args.tensor_parallel_size, args.quantization, args.max_model_len) == (2, "awq", 2048)
    assert args.speculative_config == {"method": "ngram", "num_speculative_tokens": 3,
                                       "prompt_lookup_min": 2, "prompt_lookup_max": 5}
    assert (args.gpu_memory_utilization, args.enforce_eager, args.served_model_name) == (0.5, True, ["x"])
    assert VllmEngine("/m", model_id="m", options=VllmOptions(speculative="none")).engine_args().speculative_config \
        is None
    assert VllmEngine("/m", model_id="m").engine_args().quantization is None  # the checkpoint's own


async def test_the_cache_salt_goes_into_vllms_prompt():
    llm = FakeAsyncLLM([([5], "a")])
    engine = _engine(llm)
    await _collect(engine, GenerationRequest([1, 2], 4, cache_salt="alice"), GenerationResult())
    await _collect(engine, GenerationRequest([1, 2], 4), GenerationResult())
    assert llm.prompts == [{"prompt_token_ids": [1, 2], "cache_salt": "alice"}, {"prompt_token_ids": [1, 2]}]
    assert await engine.drop_cache(salt="alice") == 1 and llm.resets == 1
    assert await engine.drop_cache(session="s") == 0 and llm.resets == 1


async def test_vllms_speculation_figures_are_credited_to_requests():
    from codefill.server.engines.vllm import speculation_logger

    engine = _engine(FakeAsyncLLM([([5], "a")]))
    counter = speculation_logger(engine)(None, 0)
    counter.record(types.SimpleNamespace(spec_decoding_stats=types.SimpleNamespace(num_draft_tokens=8,
                                                                                   num_accepted_tokens=5)), None)
    counter.record(types.SimpleNamespace(spec_decoding_stats=None), None)
    first, second = GenerationResult(), GenerationResult()
    await _collect(engine, GenerationRequest([1], 4), first)
    await _collect(engine, GenerationRequest([1], 4), second)
    assert (first.draft_tokens, first.accepted_draft_tokens) == (8, 5)
    assert (second.draft_tokens, second.accepted_draft_tokens) == (0, 0)  # credited once
