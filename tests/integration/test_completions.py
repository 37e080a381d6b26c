"""The real thing: a live `codefill serve` with the real default model, queried
over HTTP with the real `openai` client."""

import asyncio
import time

import httpx
import openai
import pytest

pytestmark = pytest.mark.integration

FIB = "def fibonacci(n):\n    if n < 2:\n        return n\n    return "


@pytest.fixture(scope="module")
def client(live_server):
    return openai.OpenAI(base_url=live_server.base_url, api_key="not-needed", max_retries=0)


@pytest.fixture
def aclient(live_server):
    return openai.AsyncOpenAI(base_url=live_server.base_url, api_key="not-needed", max_retries=0)


def test_plain_completion(client, live_server):
    r = client.completions.create(model=live_server.model, prompt=FIB, max_tokens=12)
    assert r.object == "text_completion"
    assert r.choices[0].text.strip()
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 10
    assert 0 < r.usage.completion_tokens <= 12


def test_a_prompt_cut_after_a_space_or_half_a_word_is_healed(client, live_server):
    # The prompt's last token (a bare space, `jo`) goes back to the model, which chooses the answer's first
    # token among those that begin with it; the answer holds only what comes after the prompt.
    r = client.completions.create(model=live_server.model, prompt="def main():\n    for i in ", max_tokens=8)
    text = r.choices[0].text
    assert text.strip() and not text.startswith(" "), text
    r = client.completions.create(model=live_server.model, prompt="import os\n\npath = os.path.jo", max_tokens=6)
    assert r.choices[0].text.startswith("in"), r.choices[0].text
    # Sampling (and logprobs) take the other decoding path; the first token is constrained there too.
    r = client.completions.create(model=live_server.model, prompt="import os\n\npath = os.path.jo", max_tokens=6,
                                  temperature=0.7, seed=1, logprobs=1)
    assert not r.choices[0].text.startswith("jo"), r.choices[0].text
    healed = [ln for ln in httpx.get(live_server.url + "/metrics").text.splitlines()
              if ln.startswith("codefill_completions_token_healed_total ")]
    assert healed and float(healed[0].split()[1]) >= 3, healed


def test_fim_mid_line_is_one_line(client, live_server):
    r = client.completions.create(model=live_server.model, prompt="result = compute(", suffix=")\nprint(result)\n",
                                  max_tokens=24)
    text = r.choices[0].text
    assert "\n" not in text
    assert not text.endswith(")") or text.count("(") >= text.count(")")  # the suffix's ) is not repeated
    assert r.choices[0].finish_reason == "stop"


def test_fim_at_end_of_line_answers_next_line(client, live_server):
    r = client.completions.create(model=live_server.model, prompt="def add(a, b):", suffix="\n",
                                  max_tokens=24, extra_body={"mode": "single_line"})
    text = r.choices[0].text
    assert text.startswith("\n") and text.count("\n") == 1 and text.strip()


def test_streaming_gives_same_text_as_whole(client, live_server):
    whole = client.completions.create(model=live_server.model, prompt=FIB, suffix="\n", max_tokens=20)
    chunks = list(client.completions.create(model=live_server.model, prompt=FIB, suffix="\n", max_tokens=20,
                                            stream=True, stream_options={"include_usage": True}))
    text_chunks = [c for c in chunks if c.choices]
    assert len(text_chunks) > 1
    assert all(c.choices[0].finish_reason is None for c in text_chunks[:-1])
    assert text_chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert "".join(c.choices[0].text for c in text_chunks) == whole.choices[0].text
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_streaming_without_suffix(client, live_server):
    stream = client.completions.create(model=live_server.model, prompt=FIB, max_tokens=8, stream=True)
    text = "".join(c.choices[0].text for c in stream if c.choices)
    assert text


def test_n_two_and_prompt_list(client, live_server):
    r = client.completions.create(model=live_server.model, prompt=["import os\n", "x = 1\n"], n=2, max_tokens=4,
                                  temperature=0.8, seed=7)
    assert sorted(c.index for c in r.choices) == [0, 1, 2, 3]
    again = client.completions.create(model=live_server.model, prompt=["import os\n", "x = 1\n"], n=2,
                                      max_tokens=4, temperature=0.8, seed=7)
    # A seed makes it repeatable, best effort (as OpenAI documents `seed`): the four choices are decoded side
    # by side, and a sequence's logits move in their last bits with what ran beside it in a batch, so a rare
    # draw can differ (server/engines/llama_cpp/decoding.py). Most repeat exactly.
    same = sum(a.text == b.text for a, b in zip(again.choices, r.choices))
    assert same >= 3, ([c.text for c in r.choices], [c.text for c in again.choices])


def test_stop_sequences(client, live_server):
    r = client.completions.create(model=live_server.model, prompt="Count: 1, 2, 3,", max_tokens=30, stop=[" 6"])
    assert " 6" not in r.choices[0].text
    assert r.choices[0].finish_reason == "stop"


def test_echo(client, live_server):
    r = client.completions.create(model=live_server.model, prompt=FIB, max_tokens=4, echo=True)
    assert r.choices[0].text.startswith(FIB) and len(r.choices[0].text) > len(FIB)


def test_logprobs(client, live_server):
    r = client.completions.create(model=live_server.model, prompt=FIB, max_tokens=4, logprobs=2)
    lp = r.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == 4
    assert all(x <= 0 for x in lp.token_logprobs)
    assert all(len(t) == 2 for t in lp.top_logprobs)
    # greedy decoding: the chosen token is the most likely one
    assert lp.token_logprobs[0] == pytest.approx(max(lp.top_logprobs[0].values()), abs=1e-4)


def test_max_tokens_zero_warms_the_cache(client, live_server):
    prompt = "".join(f"value_{i} = {i}\n" for i in range(150))
    client.completions.create(model=live_server.model, prompt=prompt, max_tokens=0)
    r = client.completions.create(model=live_server.model, prompt=prompt + "value_", max_tokens=2)
    assert r.usage.prompt_tokens_details.cached_tokens >= r.usage.prompt_tokens - 5


def test_models_list(client, live_server):
    models = client.models.list()
    assert [m.id for m in models.data] == [live_server.model]


# --- bad input: the right status and an OpenAI error, and the server keeps serving

@pytest.mark.parametrize("kwargs,status,param", [
    ({"max_tokens": -1}, 400, "max_tokens"),
    ({"stop": ["a", "b", "c", "d", "e"]}, 400, "stop"),
    ({"temperature": "warm"}, 400, "temperature"),
    ({"model": "no-such-model"}, 404, "model"),
    ({"max_tokens": 100_000}, 400, "max_tokens"),
    ({"prompt": [1, 2, 10**9]}, 400, "prompt"),
])
def test_bad_input_gets_openai_error(client, live_server, kwargs, status, param):
    args = {"model": live_server.model, "prompt": "x = ", "max_tokens": 4, **kwargs}
    with pytest.raises(openai.APIStatusError) as info:
        client.completions.create(**args)
    assert info.value.status_code == status
    assert info.value.body["param"] == param
    assert info.value.body["message"]
    assert client.completions.create(model=live_server.model, prompt="x = ", max_tokens=2).choices


def test_malformed_json_and_wrong_types(live_server):
    url = live_server.base_url + "/completions"
    r = httpx.post(url, content=b'{"model": ', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    r = httpx.post(url, json={"model": live_server.model, "prompt": {"not": "text"}})
    assert r.status_code == 400 and r.json()["error"]["param"] == "prompt"
    r = httpx.post(url, content=b'{"model": "m", "prompt": "\xff"}', headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_huge_prompt_is_trimmed_and_answered(client, live_server):
    huge = "".join(f"def function_{i}(x):\n    return x + {i}\n\n" for i in range(6000))  # ~200k chars
    started = time.monotonic()
    r = client.completions.create(model=live_server.model, prompt=huge, suffix="\n", max_tokens=8)
    assert r.usage.prompt_tokens <= 4096 - 8
    assert time.monotonic() - started < 120  # ~15 s of prefill on 2 idle cores; bounded, never a hang
    # Answered from a cold window, the full prompt grows while the server is idle, and then it is quiet.
    # Waited for here: left to grow beside the next tests (minutes at 64-token steps 4,000 deep, shared),
    # it slowed them, and measured a neighbour's start-up probe at 3.5 s for a step of one (CI).
    deadline = time.monotonic() + 240
    while _metric(live_server, "codefill_cold_window_growth_pending") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _metric(live_server, "codefill_cold_window_growth_pending") == 0


def test_body_over_the_limit_is_413(live_server):
    r = httpx.post(live_server.base_url + "/completions",
                   json={"model": live_server.model, "prompt": "x" * (5 * 1024 * 1024)}, timeout=30)
    assert r.status_code == 413 and r.json()["error"]["type"] == "invalid_request_error"


# --- cancellation and concurrency ------------------------------------------------

COUNTING = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,"


def _metric(live_server, name):
    for line in httpx.get(live_server.url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_disconnect_mid_stream_stops_generation(live_server):
    """A client that leaves frees the engine at once: the next request does not wait
    for the ~1,500 tokens the first one asked for (about 10 s of generation)."""
    cancelled_before = _metric(live_server, "codefill_completions_cancelled_total")
    tokens_before = _metric(live_server, "codefill_completion_tokens_total")
    body = {"model": live_server.model, "prompt": COUNTING, "max_tokens": 1500, "stream": True, "mode": "raw"}
    with httpx.stream("POST", live_server.base_url + "/completions", json=body, timeout=30) as r:
        chunks = 0
        for line in r.iter_lines():
            if line.startswith("data: {"):
                chunks += 1
            if chunks == 5:
                break  # leaving the block closes the connection
    started = time.monotonic()
    r = httpx.post(live_server.base_url + "/completions",
                   json={"model": live_server.model, "prompt": "x = ", "max_tokens": 2}, timeout=30)
    assert r.status_code == 200
    assert time.monotonic() - started < 5, "the abandoned generation kept the engine busy"  # vs ~10 s if it ran on
    assert _metric(live_server, "codefill_completions_cancelled_total") == cancelled_before + 1
    # The abandoned completion generated only what was streamed before the disconnect, not 1,500 tokens.
    assert _metric(live_server, "codefill_completion_tokens_total") - tokens_before < 100


def test_disconnect_of_non_streaming_request_stops_generation(live_server):
    body = {"model": live_server.model, "prompt": COUNTING, "max_tokens": 1500, "mode": "raw"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(live_server.base_url + "/completions", json=body, timeout=1.0)
    started = time.monotonic()
    r = httpx.post(live_server.base_url + "/completions",
                   json={"model": live_server.model, "prompt": "y = ", "max_tokens": 2}, timeout=30)
    assert r.status_code == 200
    assert time.monotonic() - started < 5


async def test_newer_request_of_the_same_user_supersedes_the_older(live_server):
    url = live_server.base_url + "/completions"
    slow = {"model": live_server.model, "prompt": COUNTING, "max_tokens": 1500, "mode": "raw", "user": "dana"}
    quick = {"model": live_server.model, "prompt": "x = ", "max_tokens": 2, "user": "dana"}
    async with httpx.AsyncClient(timeout=60) as c:
        older = asyncio.create_task(c.post(url, json=slow))
        await asyncio.sleep(0.5)
        started = time.monotonic()
        newer = await c.post(url, json=quick)
        first = await older
    assert newer.status_code == 200
    assert time.monotonic() - started < 5
    assert first.status_code == 409 and first.json()["error"]["code"] == "superseded"
    # Another user's request is left alone.
    async with httpx.AsyncClient(timeout=60) as c:
        r1, r2 = await asyncio.gather(c.post(url, json={**quick, "user": "erin"}), c.post(url, json={**quick, "user": "finn"}))
    assert r1.status_code == r2.status_code == 200


async def test_ten_concurrent_requests_all_complete_and_health_stays_up(aclient, live_server):
    prompts = [f"def handler_{i}(request):\n    " for i in range(10)]

    async def one(p, stream):
        if stream:
            s = await aclient.completions.create(model=live_server.model, prompt=p, suffix="\n", max_tokens=24,
                                                 stream=True)
            return "".join([c.choices[0].text async for c in s if c.choices])
        r = await aclient.completions.create(model=live_server.model, prompt=p, suffix="\n", max_tokens=24)
        return r.choices[0].text

    async def health_latencies():
        latencies = []
        async with httpx.AsyncClient() as h:
            for _ in range(10):
                t = time.monotonic()
                assert (await h.get(live_server.url + "/health")).status_code == 200
                latencies.append(time.monotonic() - t)
                await asyncio.sleep(0.05)
        return latencies

    results, latencies = await asyncio.gather(
        asyncio.gather(*(one(p, i % 2 == 0) for i, p in enumerate(prompts))), health_latencies())
    assert len(results) == 10 and all(isinstance(t, str) for t in results)
    # A loop blocked by generation would hold /health for whole answers (seconds each); a busy shared
    # machine can delay one probe by a few hundred ms (0.55 s seen at load ~6 on 2 cores).
    assert sorted(latencies)[len(latencies) // 2] < 0.25 and max(latencies) < 2.0, latencies


def test_server_logged_no_tracebacks(live_server):
    """Everything above (bad input, disconnects, trimming) was handled, not crashed through."""
    assert "Traceback" not in live_server.log()
