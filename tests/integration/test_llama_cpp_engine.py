"""The llama.cpp engine in-process, on the real default model."""

import asyncio

import pytest

from codefill.models.store import resolve_model
from codefill.server.engines.base import GenerationRequest, GenerationResult
from codefill.server.engines.llama_cpp import LlamaCppEngine

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def engine():
    e = LlamaCppEngine(resolve_model("default", fetch=False), model_id="test", n_ctx=2048)
    asyncio.run(e.start())
    yield e
    asyncio.run(e.close())


async def collect(engine, prompt, max_tokens, stop_after=None):
    result = GenerationResult()
    req = GenerationRequest(engine.tokenize(prompt, add_bos=True), max_tokens)
    out = []
    stream = engine.generate(req, result)
    async for tok in stream:
        out.append(tok)
        if stop_after and len(out) == stop_after:
            await stream.aclose()
            break
    return out, result


def test_model_is_recognised(engine):
    info = engine.info
    assert info.family == "none"  # SmolLM2 has no FIM tokens
    assert info.architecture == "llama"
    assert info.n_ctx == 2048
    assert engine.has_special_token("<|im_start|>")
    assert not engine.has_special_token("<fim_prefix>")


def test_generation_stops_within_one_token_of_close(engine):
    async def go():
        tokens, result = await collect(engine, "1, 2, 3, 4, 5,", 500, stop_after=3)
        # Wait for the worker to take the next job: the first one is over by then.
        await collect(engine, "x", 1)
        return tokens, result

    tokens, result = asyncio.run(go())
    assert len(tokens) == 3
    assert result.finish_reason == "cancelled"
    assert result.completion_tokens <= 4


def test_kv_cache_reused_for_a_longer_prompt(engine):
    base = "".join(f"item_{i} = {i}\n" for i in range(60))

    async def go():
        await collect(engine, base, 1)
        return await collect(engine, base + "item_60 = ", 1)

    _, result = asyncio.run(go())
    assert result.cached_prompt_tokens >= result.prompt_tokens - 6


def test_max_tokens_and_length(engine):
    tokens, result = asyncio.run(collect(engine, "1, 2, 3,", 5))
    assert len(tokens) == 5 and result.finish_reason == "length" and result.completion_tokens == 5


def test_multibyte_characters_survive_token_splits(engine):
    tokens, _ = asyncio.run(collect(engine, "Émojis: 😀 😃 😄 ", 12))
    text = "".join(t.text for t in tokens)
    assert "\ufffd" not in text
