"""Running it for a team, with a scripted engine (fast): keys, limits,
admission, caps, timeouts, CORS, request ids, events, logs, draining.

The same behaviours are shown through a live `codefill serve` with the real
model in tests/integration/test_team_server.py."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from codefill.config import load_settings
from codefill.server.settings import HttpSettings, server_settings
from codefill.server.auth import KeyError_, KeyStore, check_open_mode, create_key, digest
from codefill.server.limits import LimitSettings, TokenBucket
from codefill.server.logs import JsonFormatter, request_id_var
from tests.fakes import FakeEngine
from tests.helpers import MODEL, assert_openai_error, in_process

ALICE, BOB = "alice-secret-key", "bob-secret-key"
KEYS = KeyStore.load([f"alice={ALICE}", f"bob=sha256:{digest(BOB)}"])


def _complete(c, key=None, **body):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return c.post("/v1/completions", json={"model": MODEL, "prompt": "a", "max_tokens": 3, **body}, headers=headers)


def _metric(c, line_start: str) -> float:
    for line in c.get("/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# --- keys ----------------------------------------------------------------------

def test_keys_are_required_when_configured_and_named_in_metrics(open_client):
    c = open_client(keys=KEYS)
    err = assert_openai_error(_complete(c), 401)
    assert err["code"] == "missing_api_key" and err["type"] == "authentication_error"
    assert assert_openai_error(_complete(c, "wrong-key-123"), 401)["code"] == "invalid_api_key"
    assert _complete(c, ALICE).status_code == 200
    assert _complete(c, BOB).status_code == 200  # configured by digest only
    r = c.post("/v1/completions", json={"model": MODEL, "prompt": "a"}, headers={"Authorization": f"Basic {ALICE}"})
    assert_openai_error(r, 401)
    # Probes and metrics stay open; the key's name is a label.
    assert c.get("/health").status_code == 200 and c.get("/ready").status_code == 200
    assert _metric(c, 'codefill_http_requests_total{endpoint="/v1/completions",key="alice",status="200"}') == 1
    # Refused before routing, still counted under its route; a path that is no route is "other"
    # (arbitrary paths would make unbounded label values).
    assert _metric(c, 'codefill_http_requests_total{endpoint="/v1/completions",key="unauthenticated",status="401"}') == 3
    assert c.get("/v1/no-such-thing").status_code == 401
    assert _metric(c, 'codefill_http_requests_total{endpoint="other",key="unauthenticated",status="401"}') == 1
    # /v1/models is under /v1 too.
    assert c.get("/v1/models").status_code == 401
    assert c.get("/v1/models", headers={"Authorization": f"Bearer {ALICE}"}).status_code == 200


def test_open_mode_is_the_default(open_client):
    c = open_client()
    assert _complete(c).status_code == 200
    assert _complete(c, "anything-at-all").status_code == 200


def test_key_file_holds_digests_only(tmp_path):
    path = tmp_path / "keys"
    key = create_key("team-web", path)
    assert key not in path.read_text() and digest(key) in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    store = KeyStore.load(file=path)
    assert store.name_of(key) == "team-web" and store.name_of(key + "x") is None
    with pytest.raises(KeyError_):
        create_key("team-web", path)  # one key per name
    path.write_text("alice notahash\n")
    with pytest.raises(KeyError_):
        KeyStore.load(file=path)


def test_open_mode_is_refused_off_loopback_unless_allowed():
    assert check_open_mode("127.0.0.1", KeyStore(), False) is None
    assert check_open_mode("::1", KeyStore(), False) is None
    assert "refusing" in check_open_mode("0.0.0.0", KeyStore(), False)
    assert check_open_mode("0.0.0.0", KeyStore(), True) is None
    assert check_open_mode("0.0.0.0", KEYS, False) is None


def test_settings_take_keys_and_origins_from_the_environment(monkeypatch):
    monkeypatch.setenv("CODEFILL_API_KEYS", f"alice={ALICE}, bob=sha256:{digest(BOB)}")
    monkeypatch.setenv("CODEFILL_CORS_ORIGINS", "http://a.test,http://b.test")
    settings = load_settings(host="0.0.0.0")
    assert settings.cors_origins == ["http://a.test", "http://b.test"]
    options = server_settings(settings)
    assert options.keys.name_of(BOB) == "bob"
    monkeypatch.delenv("CODEFILL_API_KEYS")
    with pytest.raises(ValueError, match="refusing"):
        server_settings(load_settings(host="0.0.0.0"))


# --- limits --------------------------------------------------------------------

def test_token_bucket_refills_and_goes_into_debt():
    b = TokenBucket(rate=2, capacity=2, now=0)
    assert b.wait_for(1, now=0) == 0
    b.take(5, now=0)  # 3 in debt
    assert b.wait_for(1, now=0) == pytest.approx(2.0)
    assert b.wait_for(1, now=2.0) == 0


def test_requests_per_second_per_key_is_429_with_retry_after(open_client):
    c = open_client(keys=KEYS, limits=LimitSettings(rate_limit_rps=1))
    assert _complete(c, ALICE).status_code == 200
    r = _complete(c, ALICE)
    err = assert_openai_error(r, 429)
    assert err["type"] == "rate_limit_error" and "alice" in err["message"]
    assert int(r.headers["Retry-After"]) >= 1
    assert _complete(c, BOB).status_code == 200  # bob has his own bucket
    assert _metric(c, 'codefill_requests_rejected_total{reason="rate_requests"}') == 1


def test_tokens_per_minute_is_charged_with_real_usage(open_client):
    c = open_client(keys=KEYS, limits=LimitSettings(rate_limit_tpm=30))
    # 1 prompt + 3 completion tokens a request, reserved when admitted: 30 tokens last 7 requests.
    statuses = [_complete(c, ALICE).status_code for _ in range(9)]
    assert statuses == [200] * 7 + [429, 429]
    assert _complete(c, BOB).status_code == 200


def test_concurrent_requests_per_key_and_the_global_bound():
    async def go():
        async with in_process(FakeEngine("x" * 40, delay=0.02), keys=KEYS,
                              limits=LimitSettings(max_concurrent_per_key=2, max_pending=3)) as (_, c):
            def call(key):
                return c.post("/v1/completions", json={"model": MODEL, "prompt": "a", "max_tokens": 40},
                              headers={"Authorization": f"Bearer {key}"})
            alice = [asyncio.create_task(call(ALICE)) for _ in range(3)]
            await asyncio.sleep(0.1)
            bob = [asyncio.create_task(call(BOB)) for _ in range(2)]
            rs = await asyncio.gather(*alice, *bob)
            metrics = (await c.get("/metrics")).text
        return [r.status_code for r in rs], rs, metrics

    statuses, rs, metrics = asyncio.run(go())
    assert sorted(statuses[:3]) == [200, 200, 429]  # alice's third: her cap of 2
    assert sorted(statuses[3:]) == [200, 503]  # bob's second: the server's bound of 3
    busy = next(r for r in rs[3:] if r.status_code == 503)
    assert busy.json()["error"]["code"] == "server_busy" and busy.headers["Retry-After"] == "1"
    assert "codefill_admission_pending 0.0" in metrics  # every ticket given back


def test_caps_on_max_tokens_and_prompt_tokens(open_client):
    c = open_client(limits=LimitSettings(max_tokens_limit=8, max_prompt_tokens=10))
    assert assert_openai_error(_complete(c, max_tokens=9), 400, "max_tokens")["code"] == "max_tokens_too_large"
    assert _complete(c, max_tokens=8).status_code == 200
    err = assert_openai_error(_complete(c, prompt="p" * 8, suffix="s" * 3), 400, "prompt")
    assert err["code"] == "prompt_too_long" and "11 tokens" in err["message"]
    assert _complete(c, prompt="p" * 7, suffix="s" * 3).status_code == 200
    assert_openai_error(_complete(c, prompt=list(range(97, 108))), 400, "prompt")


def test_request_timeout_is_408_and_ends_a_stream_cleanly(open_client):
    c = open_client(FakeEngine("x" * 200, delay=0.01), limits=LimitSettings(request_timeout=0.2))
    r = _complete(c, max_tokens=200)
    assert assert_openai_error(r, 408)["code"] == "request_timeout"
    r = _complete(c, max_tokens=200, stream=True)
    assert r.status_code == 200
    events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert json.loads(events[-2])["error"]["code"] == "request_timeout"
    assert 0 < len(events) - 2 < 200  # some text came before the cut
    assert _metric(c, "codefill_admission_pending") == 0


def test_drain_refuses_new_work_and_cuts_streams_in_progress():
    async def go():
        async with in_process(FakeEngine("y" * 300, delay=0.01)) as (app, c):
            body = {"model": MODEL, "prompt": "a", "max_tokens": 300, "stream": True}
            running = asyncio.create_task(c.post("/v1/completions", json=body))
            await asyncio.sleep(0.3)
            app.state.gate.drain(0.2)
            refused = await c.post("/v1/completions", json=body)
            streamed = await running
        return refused, streamed

    refused, streamed = asyncio.run(go())
    assert_openai_error(refused, 503)
    assert refused.json()["error"]["code"] == "server_shutting_down"
    events = [line[6:] for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert json.loads(events[-2])["error"]["code"] == "server_shutting_down"


# --- CORS, request ids, logs ----------------------------------------------------

def test_cors_is_off_by_default_and_allows_configured_origins(open_client):
    preflight = {"Origin": "http://editor.test", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    c = open_client()
    assert "access-control-allow-origin" not in c.options("/v1/completions", headers=preflight).headers
    assert "access-control-allow-origin" not in _complete(c).headers
    c = open_client(keys=KEYS, http=HttpSettings(cors_origins=("http://editor.test",)))
    r = c.options("/v1/completions", headers=preflight)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://editor.test"
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    r = c.options("/v1/completions", headers={**preflight, "Origin": "http://evil.test"})
    assert "access-control-allow-origin" not in r.headers
    # A 401 still carries CORS headers, so the browser can show the error.
    r = c.post("/v1/completions", json={"model": MODEL, "prompt": "a"}, headers={"Origin": "http://editor.test"})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == "http://editor.test"


def test_request_id_is_echoed_or_made_and_reaches_the_engine(open_client):
    engine = FakeEngine("x = 1")
    c = open_client(engine)
    r = c.post("/v1/completions", json={"model": MODEL, "prompt": "a"}, headers={"X-Request-Id": "editor-42"})
    assert r.headers["x-request-id"] == "editor-42"
    assert engine.requests[-1].request_id == "editor-42"
    assert r.json()["id"].startswith("cmpl-") and r.json()["id"] != "editor-42"
    made = c.post("/v1/completions", json={"model": MODEL, "prompt": "a"}, headers={"X-Request-Id": "bad id!"})
    assert made.headers["x-request-id"].startswith("req-")
    assert c.get("/nope").headers["x-request-id"].startswith("req-")  # errors carry one too
    stream = c.post("/v1/completions", json={"model": MODEL, "prompt": "a", "stream": True},
                    headers={"X-Request-Id": "s-1"})
    assert stream.headers["x-request-id"] == "s-1" and engine.requests[-1].request_id == "s-1"


def test_json_log_lines_carry_request_id_key_and_extras():
    record = logging.LogRecord("codefill.access", logging.INFO, __file__, 1, "POST %s", ("/v1/completions",), None)
    record.request_id, record.key, record.status = "r-1", "alice", 200
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "POST /v1/completions" and line["request_id"] == "r-1"
    assert line["key"] == "alice" and line["status"] == 200 and line["level"] == "info"


def test_prompts_are_logged_only_when_asked(caplog, open_client):
    secret = "API_TOKEN = 'do-not-log-me'"
    with caplog.at_level(logging.DEBUG):
        c = open_client()
        assert _complete(c, prompt=secret).status_code == 200
    assert "do-not-log-me" not in caplog.text
    assert any(r.name == "codefill.access" for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        c = open_client(http=HttpSettings(log_prompts=True))
        _complete(c, prompt=secret, suffix="\n")
    prompt_logs = [r for r in caplog.records if r.name == "codefill.prompts"]
    assert prompt_logs and prompt_logs[0].prompt == secret


def test_access_log_names_request_and_key(caplog, open_client):
    with caplog.at_level(logging.INFO, logger="codefill.access"):
        c = open_client(keys=KEYS)
        token = request_id_var.set(None)
        c.post("/v1/completions", json={"model": MODEL, "prompt": "a"},
               headers={"Authorization": f"Bearer {ALICE}", "X-Request-Id": "acc-1"})
        request_id_var.reset(token)
    access = [r for r in caplog.records if r.name == "codefill.access"]
    assert access[-1].status == 200 and access[-1].path == "/v1/completions"
    assert access[-1].request_id == "acc-1" and access[-1].key == "alice"


# --- events ---------------------------------------------------------------------

def _event(c, key, completion_id, event, language="python"):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return c.post("/v1/events", json={"id": completion_id, "event": event, "language": language}, headers=headers)


def test_events_give_acceptance_by_language(open_client):
    c = open_client(keys=KEYS)
    ids = [_complete(c, ALICE).json()["id"] for _ in range(4)]
    stream = _complete(c, ALICE, stream=True).text
    ids.append(json.loads(stream.split("data: ", 2)[1].split("\n")[0])["id"])
    for i in ids:
        assert _event(c, ALICE, i, "shown").json() == {"object": "completion.event", "id": i, "event": "shown",
                                                       "counted": True}
    for i in ids[:2]:
        assert _event(c, ALICE, i, "accepted").status_code == 200
    assert _event(c, ALICE, ids[2], "dismissed", "Python").status_code == 200  # normalised to lower case
    assert _event(c, ALICE, ids[0], "accepted").json()["counted"] is False  # once per completion
    assert _metric(c, 'codefill_completion_acceptance_ratio{language="python"}') == pytest.approx(2 / 5)
    assert _metric(c, 'codefill_completion_events_total{event="shown",language="python"}') == 5
    assert _metric(c, 'codefill_completion_events_total{event="dismissed",language="python"}') == 1


def test_events_for_unknown_or_another_keys_completion_are_404(open_client):
    c = open_client(keys=KEYS)
    alices = _complete(c, ALICE).json()["id"]
    assert_openai_error(_event(c, BOB, alices, "accepted"), 404, "id")
    assert_openai_error(_event(c, ALICE, "cmpl-made-up", "accepted"), 404, "id")
    assert_openai_error(_event(c, None, alices, "accepted"), 401)
    assert_openai_error(_event(c, ALICE, alices, "liked"), 400, "event")
    r = c.post("/v1/events", json={"id": alices, "event": "shown", "language": "x" * 65},
               headers={"Authorization": f"Bearer {ALICE}"})
    assert_openai_error(r, 400, "language")
    assert _event(c, ALICE, alices, "shown", "not a language!").status_code == 200
    assert _metric(c, 'codefill_completion_events_total{event="shown",language="other"}') == 1


def test_a_stream_whose_first_send_fails_gives_its_admission_back():
    async def go():
        async with in_process(FakeEngine("z" * 50, delay=0.01)) as (app, _):
            body = json.dumps({"model": MODEL, "prompt": "a", "max_tokens": 50, "stream": True}).encode()
            messages = [{"type": "http.request", "body": body, "more_body": False}]

            async def receive():
                if messages:
                    return messages.pop()
                return {"type": "http.disconnect"}  # gone as soon as the body is read

            async def send(message):
                if message["type"] == "http.response.start":
                    raise OSError("connection reset")  # what a server's send does once the client is gone

            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                     "scheme": "http", "path": "/v1/completions", "raw_path": b"/v1/completions", "query_string": b"",
                     "root_path": "", "headers": [(b"content-type", b"application/json")],
                     "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
            for _ in range(20):
                messages[:] = [{"type": "http.request", "body": body, "more_body": False}]
                try:
                    await app(scope, receive, send)
                except OSError:
                    pass
            await asyncio.sleep(0.1)
            return app.state.gate.pending, app.state.metrics.admission_pending._value.get()

    assert asyncio.run(go()) == (0, 0)
