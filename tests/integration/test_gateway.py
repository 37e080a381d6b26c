"""Gateway mode against real upstreams: three `codefill serve` processes with
the real default model on loopback, and `codefill serve --upstream ...` in
front of them, driven with the real openai client.

Which upstream served a request is read from the upstreams' own /metrics
(completion requests counted), and compared with the session's home on the
hash ring, computed here from the same URLs.
"""

from __future__ import annotations

import re
import threading
import time

import httpx
import openai
import pytest

from codefill.server.engines.replicas import HashRing
from codefill.server.tenants import session_key
from tests.conftest import free_port, start_server, stop_server

pytestmark = pytest.mark.integration

UPSTREAM_ARGS = ("--threads", "1", "--no-token-healing")

PROMPT = "def is_even(n):\n    return "
SUFFIX = "\n\nprint(is_even(4))\n"
# Raw prompt the default model goes on counting for a long time.
LONG_PROMPT = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,"


def completions_served(url: str) -> int:
    """Completion requests an upstream has answered (its /metrics)."""
    text = httpx.get(url + "/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("codefill_http_requests_total{") and 'endpoint="/v1/completions"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def cancelled(url: str) -> float:
    m = re.search(r"^codefill_completions_cancelled_total (\S+)$", httpx.get(url + "/metrics", timeout=5).text, re.M)
    return float(m.group(1)) if m else 0.0


def client_for(url: str) -> openai.OpenAI:
    # No retries: every failure must be seen as it is.
    return openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=60)


class Cluster:
    def __init__(self) -> None:
        # One thread each: three llama.cpp thread pools on two cores would spin against each other.
        # No token healing: a gateway cannot ask an OpenAI-compatible upstream to constrain only the first
        # token, so it sends the prompt whole; a direct request must do the same to be comparable.
        self.upstreams = [start_server(*UPSTREAM_ARGS, name=f"upstream{i}") for i in range(3)]
        self.gateway = self.start_gateway()
        self.ring = HashRing([u.url for u in self.upstreams])

    def start_gateway(self):
        args = [a for u in self.upstreams for a in ("--upstream", u.url)]
        return start_server(*args, "--health-interval", "0.3", "--log-level", "debug", name="gateway")

    def home(self, session: str) -> str:
        """The home of a client's `user`: the ring is walked with the tenant-scoped session (open mode)."""
        return next(self.ring.walk(session_key("anonymous", session)))

    def sessions_homed_on(self, url: str, count: int) -> list[str]:
        return [s for s in (f"user-{i}" for i in range(1000)) if self.home(s) == url][:count]

    def served_by(self, send) -> list[str]:
        """Run `send()`; the upstreams whose completion count went up."""
        before = {u.url: completions_served(u.url) for u in self.upstreams if u.process.poll() is None}
        send()
        return [url for url, n in before.items() if completions_served(url) > n]

    def close(self) -> None:
        stop_server(self.gateway)
        for u in self.upstreams:
            stop_server(u)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    yield c
    c.close()


def test_gateway_answers_fim_as_the_upstream_would(cluster):
    gateway = client_for(cluster.gateway.url)
    direct = client_for(cluster.upstreams[0].url)
    model = cluster.gateway.model
    expected = direct.completions.create(model=model, prompt=PROMPT, suffix=SUFFIX, max_tokens=16).choices[0].text
    assert expected.strip()
    r = gateway.completions.create(model=model, prompt=PROMPT, suffix=SUFFIX, max_tokens=16, user="parity")
    assert r.choices[0].text == expected
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    chunks = list(gateway.completions.create(model=model, prompt=PROMPT, suffix=SUFFIX, max_tokens=16,
                                             user="parity-stream", stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == expected
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_sessions_stick_to_their_home_replica_and_spread(cluster):
    gateway = client_for(cluster.gateway.url)
    homes = set()
    for i in range(6):
        session = f"stick-{i}"
        for line in range(2):
            served = cluster.served_by(lambda: gateway.completions.create(
                model=cluster.gateway.model, prompt=f"def f{i}_{line}(x):\n    return ", suffix="\n",
                max_tokens=4, user=session))
            assert served == [cluster.home(session)], f"{session} request {line} went to {served}"
        homes.add(cluster.home(session))
    assert len(homes) >= 2, "six sessions all hashed onto one replica"


def test_leaving_client_aborts_the_upstream_request(cluster):
    gateway = client_for(cluster.gateway.url)
    home = cluster.home("leaver")
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
    home = cluster.home("typist")
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


def _clean_error(exc: Exception) -> bool:
    """An OpenAI error object from the gateway, with a gateway status."""
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        return exc.status_code in (502, 503, 504) and "message" in body
    # A stream's error event (the HTTP status was already 200).
    return isinstance(exc, openai.APIError) and "upstream" in str(exc)


def test_killed_replica_fails_only_its_requests_in_flight_and_comes_back(cluster):
    gateway = client_for(cluster.gateway.url)
    model = cluster.gateway.model
    victim = next(u for u in cluster.upstreams if cluster.sessions_homed_on(u.url, 1))
    victim_sessions = cluster.sessions_homed_on(victim.url, 3)
    others = [s for s in (f"other-{i}" for i in range(200)) if cluster.home(s) != victim.url][:3]

    # Background typists on every replica, one request at a time each.
    outcomes: list[tuple[str, float, Exception | None]] = []
    stop = threading.Event()

    def typist(sessions: list[str]) -> None:
        n = 0
        while not stop.is_set():
            session = sessions[n % len(sessions)]
            n += 1
            try:
                gateway.completions.create(model=model, prompt=f"x{n} = [", suffix="\n", max_tokens=8, user=session)
                outcomes.append((session, time.monotonic(), None))
            except Exception as exc:  # recorded and judged below
                outcomes.append((session, time.monotonic(), exc))

    threads = [threading.Thread(target=typist, args=(group,)) for group in (victim_sessions, others)]
    for t in threads:
        t.start()
    # One long stream in flight on the victim when it dies.
    long_session = cluster.sessions_homed_on(victim.url, 4)[3]
    stream = iter(gateway.completions.create(model=model, prompt=LONG_PROMPT, max_tokens=400,
                                             user=long_session, stream=True))
    next(stream)
    time.sleep(0.3)
    victim.process.kill()
    victim.process.wait(10)
    killed_at = time.monotonic()
    with pytest.raises(openai.APIError) as failed:
        for _ in stream:
            pass
    assert "upstream" in str(failed.value)
    time.sleep(2.0)
    stop.set()
    for t in threads:
        t.join(30)

    errors = [(s, when, exc) for s, when, exc in outcomes if exc is not None]
    assert all(_clean_error(exc) for _, _, exc in errors), errors
    # Each typist had at most one request in flight when the replica died.
    assert len(errors) <= 1, errors
    assert all(s in victim_sessions for s, _, _ in errors), "a session of a live replica failed"
    after = [s for s, when, exc in outcomes if when > killed_at + 0.1 and exc is None]
    assert set(victim_sessions) & set(after), "the dead replica's sessions were not served elsewhere"
    assert set(others) & set(after)

    # Its sessions are served by a live replica, the others stay home.
    served = cluster.served_by(lambda: gateway.completions.create(
        model=model, prompt="import os\n", suffix="\n", max_tokens=4, user=victim_sessions[0]))
    assert len(served) == 1 and served[0] != victim.url
    served = cluster.served_by(lambda: gateway.completions.create(
        model=model, prompt="import sys\n", suffix="\n", max_tokens=4, user=others[0]))
    assert served == [cluster.home(others[0])]

    # It comes back on the same address: the health poll puts it in the ring again.
    port = int(victim.url.rsplit(":", 1)[1])
    revived = start_server(*UPSTREAM_ARGS, name="upstream-revived", port=port)
    cluster.upstreams[cluster.upstreams.index(victim)] = revived
    deadline = time.monotonic() + 15
    served = []
    while time.monotonic() < deadline:
        served = cluster.served_by(lambda: gateway.completions.create(
            model=model, prompt=f"y = {time.monotonic()}", suffix="\n", max_tokens=2, user=victim_sessions[1]))
        if served == [victim.url]:
            break
        time.sleep(0.3)
    assert served == [victim.url], "the revived replica did not get its sessions back"


def test_gateway_reads_a_hugging_face_tokenizer(cluster, tmp_path):
    """--model a checkpoint folder (as vLLM's): its tokenizer.json templates the
    prompts. This one is a made-up Qwen2.5-Coder vocabulary, so the upstream's
    text means nothing; the wiring is what is checked."""
    from tests.unit.test_vocab import build_checkpoint

    (tmp_path / "tiny-qwen-coder").mkdir()
    folder = build_checkpoint(tmp_path / "tiny-qwen-coder")
    gateway = start_server("--model", str(folder), "--upstream", cluster.upstreams[0].url, name="gateway-hf")
    try:
        assert gateway.model == "tiny-qwen-coder"
        assert httpx.get(gateway.url + "/ready", timeout=5).json()["family"] == "qwen2.5-coder"
        r = client_for(gateway.url).completions.create(model=gateway.model, prompt=PROMPT, suffix=SUFFIX,
                                                        max_tokens=4, user="hf")
        assert r.usage.prompt_tokens > 0 and r.choices[0].finish_reason in ("stop", "length")
    finally:
        stop_server(gateway)


def test_no_live_upstream_is_a_clean_503():
    gateway = start_server("--upstream", f"http://127.0.0.1:{free_port()}", "--health-interval", "5",
                           name="gateway-alone")
    try:
        client = client_for(gateway.url)
        with pytest.raises(openai.APIStatusError) as failed:
            client.completions.create(model=gateway.model, prompt=PROMPT, suffix=SUFFIX, max_tokens=8, user="a")
        assert failed.value.status_code == 503
        assert failed.value.body["code"] == "upstream_unavailable"
        r = httpx.post(gateway.url + "/v1/completions", timeout=10, json={
            "model": gateway.model, "prompt": PROMPT, "suffix": SUFFIX, "max_tokens": 8, "stream": True})
        events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
        assert "upstream_unavailable" in events[0] and events[-1] == "[DONE]"
    finally:
        stop_server(gateway)
