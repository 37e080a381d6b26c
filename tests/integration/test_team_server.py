"""Running it for a team, for real: `codefill serve` processes with keys (from
`codefill keys create`'s file and from flags), limits, CORS and JSON logs,
the real default model, real HTTP and the real openai client; and a server
that stops gracefully on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import httpx
import openai
import pytest

from tests.helpers import start_server, stop_server

pytestmark = pytest.mark.integration

BOB = "bob-flag-key-0123"
COUNT = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,"


@pytest.fixture(scope="module")
def alice_key(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "keys.txt"
    out = subprocess.run([sys.executable, "-m", "codefill.cli", "keys", "create", "alice", "--file", str(path)],
                         capture_output=True, text=True, check=True)
    key = out.stdout.strip()
    assert key.startswith("cf-") and key not in path.read_text()
    return key, path


@pytest.fixture(scope="module")
def team(alice_key):
    key, path = alice_key
    s = start_server("--api-keys-file", str(path), "--api-key", f"bob={BOB}", "--max-concurrent-per-key", "1",
                     "--max-tokens-limit", "256", "--max-prompt-tokens", "2000", "--cors-origin",
                     "http://editor.test", "--log-format", "json", "--request-timeout", "300", name="team")
    yield s, key
    stop_server(s)


def _client(server, key):
    return openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0, timeout=120)


def _metric(server, prefix: str) -> float:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def test_keys_from_file_and_flag_work_and_others_are_refused(team):
    server, alice = team
    assert _client(server, alice).completions.create(model=server.model, prompt="x = ", max_tokens=4).usage
    assert _client(server, BOB).completions.create(model=server.model, prompt="y = ", max_tokens=4).usage
    with pytest.raises(openai.AuthenticationError):
        _client(server, "cf-not-a-key").completions.create(model=server.model, prompt="x", max_tokens=1)
    r = httpx.post(server.url + "/v1/completions", json={"model": server.model, "prompt": "x"}, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_api_key"
    assert httpx.get(server.url + "/ready").status_code == 200  # probes stay open
    assert _metric(server, 'codefill_http_requests_total{endpoint="/v1/completions",key="alice",status="200"}') >= 1
    assert _metric(server, 'codefill_http_requests_total{endpoint="/v1/completions",key="bob",status="200"}') >= 1


def test_one_open_request_per_key(team):
    server, alice = team
    headers = {"Authorization": f"Bearer {alice}"}
    # A cold prompt of ~800 tokens (under the 2,000 cap): its prefill keeps the first request busy a while.
    cold = "".join(f"item_{i}_{time.time_ns() % 997} = {i}\n" for i in range(60))
    first: list[httpx.Response] = []
    worker = threading.Thread(target=lambda: first.append(httpx.post(
        server.url + "/v1/completions", json={"model": server.model, "prompt": cold, "max_tokens": 8},
        headers=headers, timeout=300)))
    worker.start()
    deadline = time.monotonic() + 30
    while _metric(server, "codefill_admission_pending") < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not first, first[0].text  # still running
    small = {"model": server.model, "prompt": "x = ", "max_tokens": 2}
    second = httpx.post(server.url + "/v1/completions", json=small, headers=headers, timeout=60)
    other_key = httpx.post(server.url + "/v1/completions", json=small, headers={"Authorization": f"Bearer {BOB}"},
                           timeout=300)
    worker.join(300)
    assert second.status_code == 429, second.text
    assert second.json()["error"]["code"] == "too_many_concurrent_requests" and second.headers["Retry-After"]
    assert other_key.status_code == 200  # bob is not held up by alice's cap
    assert first[0].status_code == 200, first[0].text
    assert _metric(server, "codefill_admission_pending") == 0


def test_caps_are_clear_400s(team):
    server, alice = team
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        _client(server, alice).completions.create(model=server.model, prompt="x", max_tokens=257)
    with pytest.raises(openai.BadRequestError, match="prompt_too_long|limit is 2000"):
        _client(server, alice).completions.create(model=server.model, prompt="word " * 5000, max_tokens=1)


def test_cors_preflight_for_the_configured_origin_only(team):
    server, _ = team
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    ok = httpx.options(server.url + "/v1/completions", headers={**preflight, "Origin": "http://editor.test"})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "http://editor.test"
    other = httpx.options(server.url + "/v1/completions", headers={**preflight, "Origin": "http://evil.test"})
    assert "access-control-allow-origin" not in other.headers


def test_events_and_acceptance_by_language(team):
    server, alice = team
    client = _client(server, alice)
    ids = [client.completions.create(model=server.model, prompt=f"n{i} = ", max_tokens=3).id for i in range(3)]
    headers = {"Authorization": f"Bearer {alice}"}
    for i in ids:
        assert httpx.post(server.url + "/v1/events", json={"id": i, "event": "shown", "language": "rust"},
                          headers=headers).json()["counted"] is True
    httpx.post(server.url + "/v1/events", json={"id": ids[0], "event": "accepted", "language": "rust"},
               headers=headers).raise_for_status()
    assert _metric(server, 'codefill_completion_acceptance_ratio{language="rust"}') == pytest.approx(1 / 3)
    stolen = httpx.post(server.url + "/v1/events", json={"id": ids[1], "event": "accepted", "language": "rust"},
                        headers={"Authorization": f"Bearer {BOB}"})
    assert stolen.status_code == 404  # bob cannot report on alice's completions


def test_json_logs_carry_request_id_and_key_and_never_the_prompt(team):
    server, alice = team
    secret = "PASSWORD = 'hunter2-in-a-prompt'"
    r = httpx.post(server.url + "/v1/completions", json={"model": server.model, "prompt": secret, "max_tokens": 2},
                   headers={"Authorization": f"Bearer {alice}", "X-Request-Id": "team-log-1"}, timeout=120)
    assert r.status_code == 200 and r.headers["x-request-id"] == "team-log-1"
    made = httpx.get(server.url + "/v1/models", headers={"Authorization": f"Bearer {alice}"})
    assert made.headers["x-request-id"].startswith("req-")
    time.sleep(0.2)
    log = server.log()
    assert "hunter2" not in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [x for x in lines if x.get("request_id") == "team-log-1" and x["logger"] == "codefill.access"]
    assert access and access[0]["key"] == "alice" and access[0]["status"] == 200 and access[0]["duration_ms"] > 0
    assert all({"time", "level", "logger", "message"} <= set(x) for x in lines)


def test_latency_metrics_by_model_endpoint_and_stream(team):
    server, alice = team
    list(_client(server, alice).completions.create(model=server.model, prompt="z = ", max_tokens=3, stream=True))
    text = httpx.get(server.url + "/metrics").text
    model = server.model
    assert f'codefill_time_to_first_token_seconds_count{{model="{model}",stream="true"}}' in text
    assert f'codefill_completion_duration_seconds_count{{model="{model}",stream="false"}}' in text
    assert 'codefill_http_request_duration_seconds_count{endpoint="/v1/completions"}' in text
    assert "codefill_requests_rejected_total" in text and "codefill_admission_pending" in text


def test_requests_per_second_limit_for_real():
    s = start_server("--api-key", f"bob={BOB}", "--rate-limit-rps", "0.02", name="team-rps")
    try:
        client = _client(s, BOB)
        client.completions.create(model=s.model, prompt="a = ", max_tokens=1)
        with pytest.raises(openai.RateLimitError) as exc:
            client.completions.create(model=s.model, prompt="a = ", max_tokens=1)
        assert int(exc.value.response.headers["Retry-After"]) >= 1
    finally:
        stop_server(s)


def test_open_mode_is_refused_off_loopback():
    out = subprocess.run([sys.executable, "-m", "codefill.cli", "serve", "--host", "0.0.0.0", "--port", "1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "refusing to serve 0.0.0.0 without API keys" in out.stderr


def test_sigterm_finishes_or_cleanly_ends_streams_then_exits():
    s = start_server(name="drain")
    lines: list[str] = []
    body = {"model": s.model, "prompt": COUNT, "max_tokens": 2000, "stream": True}

    def read():
        with httpx.stream("POST", s.url + "/v1/completions", json=body, timeout=60) as r:
            for line in r.iter_lines():
                lines.append(line)

    reader = threading.Thread(target=read)
    reader.start()
    deadline = time.monotonic() + 60
    while not any(line.startswith("data: {") for line in lines) and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    s.process.send_signal(signal.SIGTERM)
    reader.join(30)
    code = s.process.wait(30)
    took = time.monotonic() - started
    assert code in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    assert took < 10, took  # 3 s of grace for streams, then a clean end
    data = [line[6:] for line in lines if line.startswith("data: ")]
    assert data[-1] == "[DONE]"  # finished, or ended with an error event first
    if "error" in data[-2]:
        assert json.loads(data[-2])["error"]["code"] == "server_shutting_down"
    with pytest.raises(httpx.ConnectError):
        httpx.get(s.url + "/health", timeout=2)
    assert "Traceback" not in s.log()
    assert "stopping: no new requests" in s.log() and "Finished server process" in s.log()
