"""Continuous batching in the llama.cpp engine, on the real default model: sessions decoded
together, sequences freed at once, sessions in RAM and back, shared heads, cache salts, and
the server's settings and metrics over real HTTP."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import openai
import pytest

from codefill.models.store import resolve_model
from codefill.server.engines.base import GenerationRequest, GenerationResult, SamplingParams, Superseded
from codefill.server.engines.llama_cpp import LlamaCppEngine
from tests.helpers import start_server, stop_server

pytestmark = pytest.mark.integration

FILES = [
    "".join(f"def area_{i}(width, height):\n    return width * height * {i}\n\n" for i in range(12)) + "def area_12(",
    "".join(f"class Point{i}:\n    x = {i}\n    y = {i * 2}\n\n" for i in range(12)) + "class Point12:\n    x =",
    "import os\nimport sys\n\n" + "".join(f"PATH_{i} = os.path.join('a', '{i}')\n" for i in range(20)) + "PATH_20 =",
    "numbers = [\n" + "".join(f"    {i * 3},\n" for i in range(40)) + "   ",
]


@pytest.fixture(scope="module")
def engine():
    e = LlamaCppEngine(resolve_model("default", fetch=False), model_id="test", n_ctx=2048, sequences=4,
                       step_tokens=128)
    asyncio.run(e.start())
    yield e
    asyncio.run(e.close())


async def ask(engine, prompt, max_tokens=12, session=None, salt=None, logprobs=None):
    result = GenerationResult()
    req = GenerationRequest(engine.tokenize(prompt, add_bos=True), max_tokens, session=session, cache_salt=salt,
                            top_logprobs=logprobs)
    tokens = [t async for t in engine.generate(req, result)]
    return tokens, result


def test_four_sessions_at_once_get_the_answers_they_get_alone(engine):
    async def alone():
        return [[t.token_id for t in (await ask(engine, p, session=f"alone-{i}"))[0]] for i, p in enumerate(FILES)]

    async def together():
        steps = engine.stats["steps"]
        answers = await asyncio.gather(*(ask(engine, p, session=f"together-{i}") for i, p in enumerate(FILES)))
        return [[t.token_id for t in tokens] for tokens, _ in answers], engine.stats["steps"] - steps

    single = asyncio.run(alone())
    batched, steps = asyncio.run(together())
    # Batched: far fewer steps than 4 x (prompt chunks + 12 tokens) one after another.
    assert steps < sum(len(a) for a in single)
    assert len({tuple(a) for a in single}) == 4, "the four prompts must have different answers to tell a mix-up"
    for i, (a, b) in enumerate(zip(single, batched)):
        if a == b:
            continue
        # Batched arithmetic may flip a near tie; a mix-up would show another session's tokens.
        k = next(j for j, (x, y) in enumerate(zip(a, b)) if x != y)
        assert all(b[: k + 1] != other[: k + 1] for j, other in enumerate(single) if j != i)
        tokens, _ = asyncio.run(ask(engine, FILES[i], max_tokens=k + 1, session=f"probe-{i}", logprobs=2))
        top = sorted(tokens[k].top_logprobs.values(), reverse=True)
        assert top[0] - top[1] < 0.1, f"session {i} differs at token {k} where the model was not near a tie"


def test_a_cancelled_request_frees_its_sequence_within_one_step(engine):
    async def go():
        result = GenerationResult()
        stream = engine.generate(GenerationRequest(engine.tokenize("1, 2, 3, 4,", add_bos=True), 400,
                                                   session="cancel-me"), result)
        for _ in range(3):
            await stream.__anext__()
        assert engine.stats["sequences_in_use"] >= 1
        steps = engine.stats["steps"]
        await stream.aclose()
        for _ in range(200):
            if engine.stats["sequences_in_use"] == 0:
                break
            await asyncio.sleep(0.005)
        return result, engine.stats["steps"] - steps

    result, steps = asyncio.run(go())
    assert result.finish_reason == "cancelled"
    assert engine.stats["sequences_in_use"] == 0 and steps <= 1


def test_a_superseded_request_frees_its_sequence_within_one_step(engine):
    async def go():
        first = GenerationResult()
        older = engine.generate(GenerationRequest(engine.tokenize("a, b, c, d,", add_bos=True), 400,
                                                  session="typist"), first)
        await older.__anext__()
        steps = engine.stats["steps"]
        newer = asyncio.create_task(ask(engine, "x = ", 2, session="typist"))
        with pytest.raises(Superseded):
            async for _ in older:
                pass
        freed_after = engine.stats["steps"] - steps
        await newer
        return first, freed_after

    first, freed_after = asyncio.run(go())
    assert first.finish_reason == "cancelled" and freed_after <= 1


def test_a_session_moved_to_ram_and_back_answers_the_same_and_reports_its_cached_tokens(engine):
    prompt = FILES[0]

    async def go():
        before, _ = await ask(engine, prompt, session="ram-a")
        moved = engine.stats["evicted_to_ram"]
        # Five other sessions at once: four sequences are not enough, the idle ones go to RAM.
        await asyncio.gather(*(ask(engine, f"# other {i}\n" + FILES[i % 4][::-1][:300], 2, session=f"ram-{i}")
                               for i in range(5)))
        restored = engine.stats["restored_from_ram"]
        after, result = await ask(engine, prompt, session="ram-a")
        return before, after, result, moved, restored

    before, after, result, moved, restored = asyncio.run(go())
    assert engine.stats["evicted_to_ram"] > moved
    assert engine.stats["restored_from_ram"] > restored
    assert [t.token_id for t in after] == [t.token_id for t in before]
    assert result.cached_prompt_tokens == result.prompt_tokens - 1


def test_a_keystroke_that_types_the_start_of_the_last_answer_is_drafted_from_the_rest_of_it(engine):
    """The user typed the first two tokens of the session's last answer: the rest of that answer is
    the new request's drafts (the model computed it from this very prompt), so the same answer comes
    in a few steps instead of one a token. Nothing of it reaches another tenant's session of the
    same name, nor another session of the same tenant."""

    async def answer(tokens, session, salt):
        result = GenerationResult()
        req = GenerationRequest(list(tokens), 10, session=session, cache_salt=salt)
        steps = engine.stats["steps"]
        got = [t.token_id async for t in engine.generate(req, result)]
        return got, result, engine.stats["steps"] - steps

    async def go():
        prompt = engine.tokenize(FILES[2], add_bos=True)
        first, _, _ = await answer(prompt, "typing", "tenant-a")
        typed = prompt + first[:2]
        forecasts, kept = engine.stats["forecasts"], engine.stats["forecast_accepted"]
        again = await answer(typed, "typing", "tenant-a")
        drafted = engine.stats["forecasts"] - forecasts, engine.stats["forecast_accepted"] - kept
        other_tenant = await answer(typed, "typing", "tenant-b")
        other_session = await answer(typed, "reading", "tenant-a")
        return first, again, drafted, other_tenant, other_session, engine.stats["forecasts"] - forecasts

    first, (again, _, steps), (drafted, kept), other_tenant, other_session, forecasts = asyncio.run(go())
    assert len(first) == 10 and len(again) == 10
    assert again[:8] == first[2:]  # the rest of the answer it typed through, then more
    assert drafted == 1 and kept >= 7 and steps <= 4
    for tokens, _, other_steps in (other_tenant, other_session):
        assert tokens == again and other_steps >= 9  # no forecast: a step a token
    assert forecasts == 1


def test_a_shared_head_is_computed_once_within_a_tenant_and_never_across_tenants(engine):
    head = FILES[1]

    async def go():
        shared = engine.stats["shared_prefix_tokens"]
        _, a = await ask(engine, head, 2, session="alice", salt="acme")
        _, b = await ask(engine, head + " 1", 2, session="bob", salt="acme")
        after_b = engine.stats["shared_prefix_tokens"]
        _, c = await ask(engine, head, 2, session="carol", salt="globex")
        return a, b, c, after_b - shared, engine.stats["shared_prefix_tokens"] - after_b

    a, b, c, shared_b, shared_c = asyncio.run(go())
    assert a.cached_prompt_tokens == 0
    assert b.cached_prompt_tokens >= a.prompt_tokens - 2 and shared_b == b.cached_prompt_tokens
    assert c.cached_prompt_tokens == 0 and shared_c == 0


def test_sampled_and_logprob_requests_run_in_the_same_batches(engine):
    async def go():
        greedy = ask(engine, FILES[2], 6, session="g")
        sampled = GenerationResult()
        req = GenerationRequest(engine.tokenize(FILES[3], add_bos=True), 6, SamplingParams(temperature=0.8, seed=3),
                                session="s")
        tokens = [t async for t in engine.generate(req, sampled)]
        return await greedy, tokens

    (g, _), s = asyncio.run(go())
    assert len(g) == 6 and len(s) <= 6
    tokens, _ = asyncio.run(ask(engine, FILES[0], 3, logprobs=2))
    assert all(t.logprob is not None and len(t.top_logprobs) == 2 for t in tokens)


# -- the server -----------------------------------------------------------------------------

def test_bad_settings_are_refused_at_start_up_with_a_clear_message():
    out = subprocess.run([sys.executable, "-m", "codefill.cli", "serve", "--sequences", "8", "--step-tokens", "4"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "--step-tokens 4 is less than --sequences 8" in out.stderr
    out = subprocess.run([sys.executable, "-m", "codefill.cli", "serve", "--sequences", "0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "sequences" in out.stderr


@pytest.fixture(scope="module")
def tenants():
    server = start_server("--api-key", "acme=acme-key-0123456", "--api-key", "globex=globex-key-0123456",
                          # 5: the fair queue keeps the last free sequence for globex (active within a minute)
                          "--sequences", "5", name="batching")
    yield server
    stop_server(server)


def test_tenants_never_share_cached_prompts_over_http(tenants):
    prompt = FILES[0]
    acme = openai.OpenAI(base_url=tenants.base_url, api_key="acme-key-0123456")
    globex = openai.OpenAI(base_url=tenants.base_url, api_key="globex-key-0123456")
    first = acme.completions.create(model=tenants.model, prompt=prompt, max_tokens=2, user="one")
    again = acme.completions.create(model=tenants.model, prompt=prompt, max_tokens=2, user="two")
    other = globex.completions.create(model=tenants.model, prompt=prompt, max_tokens=2, user="one")
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert again.usage.prompt_tokens_details.cached_tokens >= again.usage.prompt_tokens - 2
    assert other.usage.prompt_tokens_details.cached_tokens == 0


def test_n_completions_run_as_parallel_sequences_and_metrics_show_it(tenants):
    client = openai.OpenAI(base_url=tenants.base_url, api_key="acme-key-0123456")
    answer = client.completions.create(model=tenants.model, prompt=FILES[2], max_tokens=8, n=4, temperature=0.9,
                                       seed=1)
    assert len(answer.choices) == 4
    metrics = httpx.get(tenants.url + "/metrics").text
    buckets = {float(line.split('le="')[1].split('"')[0]): float(line.rsplit(" ", 1)[1])
               for line in metrics.splitlines() if line.startswith("codefill_engine_step_sequences_bucket")}
    assert buckets[3.0] < buckets[float("inf")], "no step held four sequences"
    # The other three choices took the prompt's head from the first's sequence instead of computing it.
    shared = next(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                  if line.startswith("codefill_engine_shared_prefix_tokens_total"))
    assert shared >= 3 * (answer.usage.prompt_tokens - 2)
    for name in ("codefill_engine_sequences_in_use", "codefill_engine_kv_cells_in_use",
                 "codefill_engine_shared_prefix_tokens_total", "codefill_engine_queue_wait_seconds_bucket",
                 "codefill_engine_time_to_first_token_seconds_bucket", "codefill_engine_step_tokens_bucket",
                 "codefill_engine_time_per_output_token_seconds_bucket"):
        assert name in metrics
