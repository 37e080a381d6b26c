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


def test_two_sessions_keep_their_own_cache(engine):
    """Alice and Bob type in different files: each keystroke finds its own prefix cached."""
    alice = "".join(f"alice_{i} = {i}\n" for i in range(80))
    bob = "".join(f"def bob_{i}(): pass\n" for i in range(80))

    async def ask(prompt, session):
        result = GenerationResult()
        req = GenerationRequest(engine.tokenize(prompt, add_bos=True), 1, session=session)
        async for _ in engine.generate(req, result):
            pass
        return result

    async def go():
        await ask(alice, "alice")
        await ask(bob, "bob")
        return await ask(alice + "alice_80 = ", "alice"), await ask(bob + "def bob_80", "bob")

    a, b = asyncio.run(go())
    assert a.cached_prompt_tokens >= a.prompt_tokens - 12
    assert b.cached_prompt_tokens >= b.prompt_tokens - 12


def test_newer_request_of_a_session_supersedes_the_older(engine):
    from codefill.server.engines.base import Superseded

    async def go():
        first = GenerationResult()
        older = engine.generate(GenerationRequest(engine.tokenize("1, 2, 3, 4,", add_bos=True), 400,
                                                  session="carol"), first)
        got = [await older.__anext__() for _ in range(2)]
        newer_tokens, newer = await collect_session(engine, "x = ", 3, "carol")
        with pytest.raises(Superseded):
            async for tok in older:
                got.append(tok)
        return got, first, newer_tokens

    got, first, newer_tokens = asyncio.run(go())
    assert len(newer_tokens) == 3
    assert first.completion_tokens < 10  # stopped at once, not after 400 tokens


async def collect_session(engine, prompt, max_tokens, session):
    result = GenerationResult()
    out = [t async for t in engine.generate(GenerationRequest(engine.tokenize(prompt, add_bos=True), max_tokens,
                                                              session=session), result)]
    return out, result


def test_session_states_are_capped_least_recently_used_first():
    from codefill.server.engines.llama_cpp import _SavedSession, _SessionStates

    states = _SessionStates(max_bytes=250)
    for name in "abc":
        states.put(name, _SavedSession([1], b"x" * 100))
    assert len(states) == 2 and states.bytes == 200
    assert states.take("a") is None  # the oldest went
    assert states.take("b") is not None and states.take("c") is not None
    states.put("huge", _SavedSession([1], b"x" * 300))
    assert len(states) == 0


@pytest.mark.parametrize("temperature, seed", [(0.0, None), (1.5, 1), (1.5, 2), (1.5, 3)])
def test_a_healed_prompt_gets_a_first_token_that_begins_with_the_healed_text(engine, temperature, seed):
    from codefill.server.engines.base import SamplingParams

    prompt = "import os\n\npath = os.path.jo"
    heal = engine.heal_text(prompt)
    assert heal and prompt.endswith(heal)
    allowed = {int(t) for t in engine._healer.extensions(heal.encode())}
    req = GenerationRequest(engine.tokenize(prompt[: -len(heal)], add_bos=True), 4,
                            SamplingParams(temperature=temperature, seed=seed), heal=heal)

    async def go():
        result = GenerationResult()
        return [t async for t in engine.generate(req, result)]

    tokens = asyncio.run(go())
    # Greedy and sampled alike: the first token is one that begins with the text taken back, which
    # is not handed out again.
    assert tokens[0].token_id in allowed
    assert engine._healer.piece(tokens[0].token_id).decode() == heal + tokens[0].text


# -- cold window -----------------------------------------------------------------

def _cold_prompts(engine, typed=""):
    """A long file (~1,400 tokens) and its cold window: the lines nearest its end."""
    lines = [f"def handler_{i}(request, value={i}):\n    return request.reply(value * {i})\n" for i in range(60)]
    full = engine.tokenize("".join(lines) + typed, add_bos=True)
    cold = engine.tokenize("".join(lines[-8:]) + typed, add_bos=True)
    return full, cold


async def _ask(engine, full, cold, session="dana"):
    result = GenerationResult()
    req = GenerationRequest(full, 2, session=session, cold_tokens=cold)
    tokens = [t async for t in engine.generate(req, result)]
    return tokens, result


def test_cold_window_answers_at_once_then_grows_to_the_full_prompt_in_idle_time(engine):
    engine._loop.grow_after = 0.1  # the step loop reads it (--grow-after)
    grown = engine.stats["windows_grown"]
    full, cold = _cold_prompts(engine)
    assert len(full) > 1000 and len(cold) < 300

    async def go():
        first = await _ask(engine, full, cold)
        # The next keystroke comes at once: still the cold window, now cached.
        full2, cold2 = _cold_prompts(engine, "def ")
        second = await _ask(engine, full2, cold2)
        for _ in range(300):  # idle: the engine evaluates the full prompt
            if engine.stats["windows_grown"] > grown:
                break
            await asyncio.sleep(0.05)
        full3, cold3 = _cold_prompts(engine, "def handler")
        third = await _ask(engine, full3, cold3)
        return first, second, third

    (t1, r1), (t2, r2), (t3, r3) = asyncio.run(go())
    full2, _ = _cold_prompts(engine, "def ")
    assert t1 and r1.cold_window and r1.prompt_tokens == len(cold)
    assert r2.cold_window and r2.cached_prompt_tokens >= len(cold) - 2
    assert engine.stats["windows_grown"] == grown + 1
    # After the pause the full window is in the cache: only the typed tokens are new.
    assert not r3.cold_window and r3.prompt_tokens > 1000
    assert r3.cached_prompt_tokens >= len(full2) - 4


def test_a_request_during_growth_is_answered_from_the_cold_window_and_growth_resumes(engine):
    engine._loop.grow_after = 0.05
    grown = engine.stats["windows_grown"]
    lines = [f"class Model_{i}:\n    size = {i} * 7\n" for i in range(90)]
    full = engine.tokenize("".join(lines), add_bos=True)
    cold = engine.tokenize("".join(lines[-10:]), add_bos=True)

    async def go():
        await _ask(engine, full, cold, session="erin")
        await asyncio.sleep(0.3)  # growth has begun, not finished (~1,400 tokens take seconds)
        started = engine.stats["grown_tokens"]
        during = await _ask(engine, full, cold, session="erin")
        assert engine.stats["windows_grown"] == grown, "growth finished too early to test an interruption"
        for _ in range(400):
            if engine.stats["windows_grown"] > grown:
                break
            await asyncio.sleep(0.05)
        after = await _ask(engine, full, cold, session="erin")
        return started, during, after

    started, (_, during), (_, after) = asyncio.run(go())
    assert started > 0
    # The interrupted growth did not cost the cold window its cache.
    assert during.cold_window and during.cached_prompt_tokens == len(cold) - 1
    assert engine.stats["windows_grown"] == grown + 1
    assert not after.cold_window and after.cached_prompt_tokens == len(full) - 1


def test_without_a_cold_window_the_full_prompt_is_evaluated(engine):
    full, _ = _cold_prompts(engine, "x = 1\n")

    async def go():
        return await _ask(engine, full, None, session="fred")

    _, result = asyncio.run(go())
    assert not result.cold_window and result.prompt_tokens == len(full)
