"""Gateway mode against a real upstream: a `codefill serve` process with the
real default model on loopback, and `codefill serve --upstream URL` in front
of it, driven with the real openai client. (Spreading sessions over replicas
is a load balancer's job: tests/integration/test_load_balancer.py.)
"""

from __future__ import annotations

import re
import time

import httpx
import openai
import pytest

from tests.hf_hub import build_checkpoint
from tests.helpers import free_port, start_server, stop_server

pytestmark = pytest.mark.integration

ADMIN_KEY = "gateway-test-admin-key"
UPSTREAM_ARGS = ("--threads", "1", "--no-token-healing", "--admin-key", ADMIN_KEY)

PROMPT = "def is_even(n):\n    return "
SUFFIX = "\n\nprint(is_even(4))\n"
# Raw prompt the default model goes on counting for a long time.
LONG_PROMPT = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,"


def cancelled(url: str) -> float:
    m = re.search(r"^codefill_completions_cancelled_total (\S+)$", httpx.get(url + "/metrics", timeout=5).text, re.M)
    return float(m.group(1)) if m else 0.0


def forget_everything(url: str) -> None:
    """Drop the upstream's cached state, so that the next answer is computed
    from a cold cache: the same prompt through the same steps gives the same
    numbers, where a warm cache would evaluate fewer tokens per step and can
    tip a near-tie to another answer."""
    r = httpx.post(url + "/admin/cache/drop", json={"tenant": "anonymous"},
                   headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
    assert r.status_code == 200, r.text


def client_for(url: str) -> openai.OpenAI:
    # No retries: every failure must be seen as it is.
    return openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=60)


class Cluster:
    def __init__(self) -> None:
        # No token healing: a gateway cannot ask an OpenAI-compatible upstream to constrain only the first
        # token, so it sends the prompt whole; a direct request must do the same to be comparable.
        self.upstream = start_server(*UPSTREAM_ARGS, name="upstream")
        self.gateway = start_server("--upstream", self.upstream.url, "--log-level", "debug", name="gateway")

    def close(self) -> None:
        stop_server(self.gateway)
        stop_server(self.upstream)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    yield c
    c.close()


def test_gateway_answers_fim_as_the_upstream_would(cluster):
    gateway = client_for(cluster.gateway.url)
    direct = client_for(cluster.upstream.url)
    model = cluster.gateway.model
    # Each answer from a cold cache (a warm one's answer can differ: seen "0" cold,
    # "0 if n % 2 == 0 else n" warm).
    forget_everything(cluster.upstream.url)
    expected = direct.completions.create(model=model, prompt=PROMPT, suffix=SUFFIX, max_tokens=16).choices[0].text
    assert expected.strip()
    forget_everything(cluster.upstream.url)
    r = gateway.completions.create(model=model, prompt=PROMPT, suffix=SUFFIX, max_tokens=16, user="parity")
    assert r.choices[0].text == expected
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    forget_everything(cluster.upstream.url)
    chunks = list(gateway.completions.create(model=model, prompt=PROMPT, suffix=SUFFIX, max_tokens=16,
                                             user="parity-stream", stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == expected
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_leaving_client_aborts_the_upstream_request(cluster):
    gateway = client_for(cluster.gateway.url)
    home = cluster.upstream.url
    before = cancelled(home)
    stream = gateway.completions.create(model=cluster.gateway.model, prompt=LONG_PROMPT, max_tokens=400,
                                        user="leaver", stream=True)
    next(iter(stream))
    stream.close()
    deadline = time.monotonic() + 10
    while cancelled(home) <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cancelled(home) > before, "the upstream kept generating for a client that left"


def test_a_newer_request_of_a_session_supersedes_the_older(cluster):
    gateway = client_for(cluster.gateway.url)
    home = cluster.upstream.url
    before = cancelled(home)
    older = iter(gateway.completions.create(model=cluster.gateway.model, prompt=LONG_PROMPT, max_tokens=400,
                                            user="typist", stream=True))
    next(older)
    newer = gateway.completions.create(model=cluster.gateway.model, prompt=PROMPT, suffix=SUFFIX, max_tokens=8,
                                       user="typist")
    assert newer.choices[0].finish_reason == "stop"
    with pytest.raises(openai.APIError, match="superseded"):
        for _ in older:
            pass
    deadline = time.monotonic() + 10
    while cancelled(home) <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cancelled(home) > before, "the superseded request kept running upstream"


def test_upstream_api_key_is_sent(cluster):
    keyed = start_server("--threads", "1", "--api-key", "gateway=upstream-secret", name="upstream-keyed")
    with_key = start_server("--upstream", keyed.url, "--upstream-api-key", "upstream-secret", name="gateway-key")
    try:
        r = client_for(with_key.url).completions.create(model=with_key.model, prompt=PROMPT, suffix=SUFFIX,
                                                         max_tokens=4, user="k")
        assert r.choices[0].finish_reason in ("stop", "length")
        assert httpx.get(keyed.url + "/v1/models", timeout=5).status_code == 401, "the upstream does not check keys"
    finally:
        stop_server(with_key)
        stop_server(keyed)


def test_upstream_back_pressure_is_a_503_with_retry_after(cluster):
    """The upstream says 503 (here: its admission bound, one request at a time): the client gets
    503 with Retry-After, and the gateway serves the next request as soon as the upstream can."""
    busy = start_server(*UPSTREAM_ARGS, "--max-pending", "1", name="upstream-busy")
    gateway = start_server("--upstream", busy.url, name="gateway-busy")
    try:
        client = client_for(gateway.url)
        holding = iter(client.completions.create(model=gateway.model, prompt=LONG_PROMPT, max_tokens=400,
                                                 user="holder", stream=True))
        next(holding)
        r = httpx.post(gateway.url + "/v1/completions", timeout=30, json={
            "model": gateway.model, "prompt": PROMPT, "suffix": SUFFIX, "max_tokens": 4, "user": "second"})
        assert r.status_code == 503, r.text
        assert int(r.headers["retry-after"]) >= 1
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}
        holding.close()
        deadline = time.monotonic() + 30
        while True:
            r = httpx.post(gateway.url + "/v1/completions", timeout=60, json={
                "model": gateway.model, "prompt": PROMPT, "suffix": SUFFIX, "max_tokens": 4, "user": "second"})
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 200, r.text
    finally:
        stop_server(gateway)
        stop_server(busy)


def test_killed_upstream_fails_its_stream_cleanly_then_503_then_serves_when_back(cluster):
    upstream = start_server(*UPSTREAM_ARGS, name="upstream-victim")
    gateway_server = start_server("--upstream", upstream.url, name="gateway-victim")
    try:
        gateway = client_for(gateway_server.url)
        model = gateway_server.model
        stream = iter(gateway.completions.create(model=model, prompt=LONG_PROMPT, max_tokens=400,
                                                 user="long", stream=True))
        next(stream)
        upstream.process.kill()
        upstream.process.wait(10)
        with pytest.raises(openai.APIError) as failed:
            for _ in stream:
                pass
        assert "upstream" in str(failed.value)
        # Nobody listens now: a clean 503 with Retry-After, not a 500 or a hang.
        r = httpx.post(gateway_server.url + "/v1/completions", timeout=30, json={
            "model": model, "prompt": PROMPT, "suffix": SUFFIX, "max_tokens": 4, "user": "next"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "upstream_unavailable"
        assert r.headers["retry-after"] == "2"
        # Back on the same address: the very next request is served, no health polling involved.
        port = int(upstream.url.rsplit(":", 1)[1])
        upstream = start_server(*UPSTREAM_ARGS, name="upstream-revived", port=port)
        r = gateway.completions.create(model=model, prompt=PROMPT, suffix=SUFFIX, max_tokens=4, user="next")
        assert r.choices[0].finish_reason in ("stop", "length")
    finally:
        stop_server(gateway_server)
        stop_server(upstream)


def test_gateway_reads_a_hugging_face_tokenizer(cluster, tmp_path):
    """--model a checkpoint folder (as vLLM's): its tokenizer.json templates the
    prompts. This one is a made-up Qwen2.5-Coder vocabulary, so the upstream's
    text means nothing; the wiring is what is checked."""
    (tmp_path / "tiny-qwen-coder").mkdir()
    folder = build_checkpoint(tmp_path / "tiny-qwen-coder")
    gateway = start_server("--model", str(folder), "--upstream", cluster.upstream.url, name="gateway-hf")
    try:
        assert gateway.model == "tiny-qwen-coder"
        assert httpx.get(gateway.url + "/ready", timeout=5).json()["family"] == "qwen2.5-coder"
        r = client_for(gateway.url).completions.create(model=gateway.model, prompt=PROMPT, suffix=SUFFIX,
                                                        max_tokens=4, user="hf")
        assert r.usage.prompt_tokens > 0 and r.choices[0].finish_reason in ("stop", "length")
    finally:
        stop_server(gateway)


def test_no_live_upstream_is_a_clean_503():
    gateway = start_server("--upstream", f"http://127.0.0.1:{free_port()}", name="gateway-alone")
    try:
        client = client_for(gateway.url)
        with pytest.raises(openai.APIStatusError) as failed:
            client.completions.create(model=gateway.model, prompt=PROMPT, suffix=SUFFIX, max_tokens=8, user="a")
        assert failed.value.status_code == 503
        assert failed.value.body["code"] == "upstream_unavailable"
        assert failed.value.response.headers["retry-after"] == "2"
        r = httpx.post(gateway.url + "/v1/completions", timeout=10, json={
            "model": gateway.model, "prompt": PROMPT, "suffix": SUFFIX, "max_tokens": 8, "stream": True})
        # Streamed, the same 503 and Retry-After: a stream's headers wait for its first body.
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert r.json()["error"]["code"] == "upstream_unavailable"
    finally:
        stop_server(gateway)
