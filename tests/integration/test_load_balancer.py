"""nginx (Debian's package) with the shipped deploy/nginx/codefill.conf, only
its `listen` port and `server` addresses changed, in front of three
`codefill serve` processes with the real default model on loopback.

Which replica served a request is read from nginx's own access log (the
config logs `upstream=` and the request id). Three servers of the real model
on a small shared machine are slow: few requests, generous timeouts.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.helpers import ARTIFACTS, free_port, LiveServer, start_server, stop_server
from codefill.bench.nginx import NGINX, shipped_config, start_nginx, stop_nginx

KEY = "lb-test-secret"
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(NGINX is None, reason="nginx is not installed (`make client-deps` installs it)")]

# A file's worth of code before the cursor, different per session, so a warm cache is unmistakable.
WINDOW = "".join(f"def step_{{n}}_{i}(value):\n    return value * {i} + {{n}}\n\n" for i in range(12))
# A raw prompt the default model goes on counting for a long time.
LONG_PROMPT = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,"


def start_replicas(count: int, *args: str) -> list[LiveServer]:
    """`count` servers started side by side; if one fails, the others are stopped too."""
    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(start_server, *args, name=f"replica{i}", ready_timeout=600) for i in range(count)]
    started = [f.result() for f in futures if f.exception() is None]
    if len(started) < count:
        for server in started:
            stop_server(server)
        raise next(f.exception() for f in futures if f.exception() is not None)
    return started


class Cluster:
    def __init__(self, tmp: Path) -> None:
        # One thread each: three llama.cpp thread pools on a small machine would spin against each other.
        self.replicas = start_replicas(3, "--threads", "1", "--api-key", f"team={KEY}")
        self.by_address = {r.url.removeprefix("http://"): r for r in self.replicas}
        port = free_port()
        ARTIFACTS.mkdir(exist_ok=True)
        self.access_log = ARTIFACTS / f"nginx-{port}.log"
        self._log_file = open(self.access_log, "w")
        self.nginx = start_nginx(tmp, shipped_config(port, list(self.by_address)), stdout=self._log_file)
        self.url = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {KEY}"},
                                   timeout=httpx.Timeout(180, connect=10))
        try:
            self.wait_ready()
        except BaseException:
            self.close()
            raise
        self.model = self.replicas[0].model

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            assert self.nginx.poll() is None, f"nginx exited:\n{self.access_log.read_text()}"
            try:
                if self.client.get("/ready").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"nginx did not answer:\n{self.access_log.read_text()}"
            time.sleep(0.1)

    def served_by(self, request_id: str) -> str:
        """The replica address nginx sent a request to (the last one it tried)."""
        for _ in range(50):
            for line in self.access_log.read_text().splitlines():
                if f'request_id="{request_id}"' in line:
                    return re.search(r"upstream=(\S+)", line).group(1).split(",")[-1].strip()
            time.sleep(0.1)
        raise AssertionError(f"request {request_id} is not in nginx's log:\n{self.access_log.read_text()}")

    def complete(self, session: str, prompt: str, **body) -> tuple[httpx.Response, str]:
        """One editor keystroke through nginx: (response, replica address)."""
        rid = f"lb-{uuid.uuid4().hex[:12]}"
        r = self.client.post("/v1/completions", headers={"X-Session-Id": session, "X-Request-Id": rid},
                             json={"model": self.model, "prompt": prompt, "user": session, **body})
        return r, self.served_by(rid)

    def close(self) -> None:
        self.client.close()
        stop_nginx(self.nginx)
        self._log_file.close()
        for r in self.replicas:
            stop_server(r)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("nginx"))
    yield c
    c.close()


@pytest.fixture(scope="module")
def homes(cluster) -> dict[str, str]:
    """Six sessions, two keystrokes each: session -> the replica that served it."""
    placed = {}
    for i in range(6):
        session = f"editor-{i}"
        window = WINDOW.replace("{n}", str(i))
        first, home = cluster.complete(session, window + "def total(values):\n    return ", suffix="\n",
                                       max_tokens=8)
        assert first.status_code == 200, first.text
        # Not the first prompt plus characters (that could be typed through without the model).
        nxt, again = cluster.complete(session, window + "def total(values):\n    result = ", suffix="\n",
                                      max_tokens=8)
        assert nxt.status_code == 200, nxt.text
        assert again == home, f"{session}'s second keystroke went to {again}, its first to {home}"
        usage = nxt.json()["usage"]
        cached = usage["prompt_tokens_details"]["cached_tokens"]
        assert cached > usage["prompt_tokens"] // 2, f"{session}: only {cached} of {usage['prompt_tokens']} cached"
        placed[session] = home
    return placed


def test_each_session_sticks_to_one_replica_and_its_cache_stays_warm(cluster, homes):
    assert set(homes.values()) <= set(cluster.by_address)
    assert len(set(homes.values())) >= 2, f"six sessions all on one replica: {homes}"


def test_what_nginx_answers_itself_is_an_openai_error(tmp_path):
    """No replica listening: a 502 in OpenAI's error shape with Retry-After, not nginx's HTML page."""
    port = free_port()
    proc = start_nginx(tmp_path, shipped_config(port, [f"127.0.0.1:{free_port()}" for _ in range(3)]))
    try:
        for _ in range(100):
            try:
                r = httpx.post(f"http://127.0.0.1:{port}/v1/completions", json={"prompt": "x"}, timeout=10)
                break
            except httpx.ConnectError:
                assert proc.poll() is None, "nginx did not start"
                time.sleep(0.1)
        assert r.status_code == 502
        assert r.headers["retry-after"] == "1"
        error = r.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["code"] == "upstream_failed"
    finally:
        stop_nginx(proc)


def _pending(replica: LiveServer) -> float:
    m = re.search(r"^codefill_admission_pending (\S+)$", httpx.get(replica.url + "/metrics", timeout=10).text, re.M)
    return float(m.group(1)) if m else 0.0


def test_a_killed_replica_fails_only_its_requests_in_flight_and_its_sessions_move(cluster, homes):
    by_replica: dict[str, list[str]] = {}
    for session, home in homes.items():
        by_replica.setdefault(home, []).append(session)
    victim_address, victim_sessions = max(by_replica.items(), key=lambda kv: len(kv[1]))
    assert len(victim_sessions) >= 2  # six sessions on three replicas
    victim = cluster.by_address[victim_address]
    others = {s: h for s, h in homes.items() if h != victim_address}

    # In flight on the victim when it dies: a stream that has begun, and a plain request behind it.
    streamer, waiter = victim_sessions[:2]
    stream_failure: list[BaseException | str] = []
    started = threading.Event()

    def stream() -> None:
        try:
            with cluster.client.stream("POST", "/v1/completions", headers={"X-Session-Id": streamer},
                                       json={"model": cluster.model, "prompt": LONG_PROMPT, "max_tokens": 400,
                                             "user": streamer, "stream": True}) as r:
                assert r.status_code == 200
                for line in r.iter_lines():
                    started.set()
                    if line == "data: [DONE]":
                        stream_failure.append("the stream ended normally")
                        return
        except httpx.HTTPError as exc:
            stream_failure.append(exc)
        finally:
            started.set()

    plain: list[httpx.Response] = []
    streaming = threading.Thread(target=stream)
    streaming.start()
    assert started.wait(120), "the stream never began"
    waiting = threading.Thread(target=lambda: plain.append(
        cluster.complete(waiter, LONG_PROMPT, max_tokens=400)[0]))
    waiting.start()
    deadline = time.monotonic() + 60
    while _pending(victim) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pending(victim) >= 2, "the second request never reached the victim"

    victim.process.kill()
    victim.process.wait(10)
    killed_at = time.monotonic()
    streaming.join(60)
    waiting.join(60)
    assert not streaming.is_alive() and not waiting.is_alive(), "a request hung after its replica died"
    assert time.monotonic() - killed_at < 60

    # The stream breaks off (no [DONE]): the client sees an error, not a finished completion.
    assert stream_failure and isinstance(stream_failure[0], httpx.HTTPError), stream_failure
    # The plain request gets nginx's 502 in OpenAI's shape; it is not sent again to another replica.
    [r] = plain
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] == "upstream_failed"

    # The victim's sessions go on elsewhere; everybody else stays where they were.
    for session in victim_sessions:
        r, served = cluster.complete(session, f"x_{session.replace('-', '_')} = [", suffix="\n", max_tokens=4)
        assert r.status_code == 200, r.text
        assert served != victim_address and served in cluster.by_address
    for session, home in others.items():
        r, served = cluster.complete(session, f"y_{session.replace('-', '_')} = (", suffix="\n", max_tokens=4)
        assert r.status_code == 200, r.text
        assert served == home, f"{session} moved from {home} to {served} though its replica is alive"
