"""Tabby's server API as tabby-agent uses it, over the one completion service (scripted engine).
The real tabby-agent against the real model: tests/integration/test_tabby_agent.py."""

import pytest

from codefill.server.auth import KeyStore
from tests.fakes import FakeEngine
from tests.helpers import assert_openai_error

KEY = "tabby-token-123456"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def client(open_client):
    return open_client(FakeEngine("x + 1\nmore"), keys=KeyStore.load([f"tabby={KEY}"]))


def tabby_body(**segments) -> dict:
    return {"language": "python", "segments": {"prefix": "def f(x):\n    return ", "suffix": "\n", **segments}}


def test_segments_get_tabbys_answer(client):
    r = client.post("/v1/completions", json=tabby_body(
        filepath="pkg/mod.py", git_url="https://example.com/repo.git", clipboard="copied",
        declarations=[{"filepath": "pkg/util.py", "body": "def helper(a):\n    return a\n"}],
        relevant_snippets_from_changed_files=[{"filepath": "pkg/other.py", "body": "X = 1\n", "score": 0.5}]),
        headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"id", "choices"}
    assert body["id"].startswith("cmpl-")
    assert body["choices"] == [{"index": 0, "text": "x + 1"}]
    text = client.get("/metrics").text
    assert 'codefill_completions_total{dialect="tabby",stream="false"} 1.0' in text
    assert 'endpoint="/v1/completions/tabby"' in text


def test_openai_requests_keep_their_contract(client):
    r = client.post("/v1/completions", json={"model": "fake", "prompt": "def f(x):\n    return ", "suffix": "\n"},
                    headers=AUTH)
    assert r.status_code == 200 and r.json()["object"] == "text_completion"
    # a body with both shapes is OpenAI's; its errors are OpenAI's, naming the parameter
    err = assert_openai_error(client.post("/v1/completions", json={"segments": {"prefix": "x"}, "prompt": "x"},
                                          headers=AUTH), 400, "model")
    assert err["code"] == "missing_required_parameter"
    assert_openai_error(client.post("/v1/completions", json={"model": "fake"}, headers=AUTH), 400, "prompt")
    assert_openai_error(client.post("/v1/completions", json={"segments": {"prefix": "x"}}), 401)


@pytest.mark.parametrize("body", [
    {"segments": {}},
    {"segments": {"prefix": 3}},
    {"segments": "x"},
    {"segments": {"prefix": "x"}, "temperature": 7},
])
def test_bad_tabby_input_is_a_400(client, body):
    assert_openai_error(client.post("/v1/completions", json=body, headers=AUTH), 400)


def test_health_and_server_setting(client):
    health = client.get("/v1/health", headers=AUTH).json()
    assert health["model"] == "fake" and health["device"]
    assert client.post("/v1/health", headers=AUTH).status_code == 200
    assert client.get("/v1beta/server_setting", headers=AUTH).json() == {"disable_client_side_telemetry": True}
    assert client.get("/v1/health").status_code == 401


def test_tabby_events_reach_the_acceptance_metrics(client):
    cid = client.post("/v1/completions", json=tabby_body(), headers=AUTH).json()["id"]
    for kind in ("view", "select"):
        r = client.post("/v1/events?select_kind=line", headers=AUTH,
                        json={"type": kind, "completion_id": cid, "choice_index": 0, "view_id": "v1", "elapsed": 30})
        assert r.status_code == 200, r.text
    text = client.get("/metrics").text
    assert 'codefill_completion_events_total{event="shown",language="python"} 1.0' in text
    assert 'codefill_completion_events_total{event="accepted",language="python"} 1.0' in text
    assert 'codefill_completion_acceptance_ratio{language="python"} 1.0' in text
    # codefill's own shape still works; an unknown Tabby event type is a 400
    assert client.post("/v1/events", json={"id": cid, "event": "dismissed"}, headers=AUTH).status_code == 200
    assert_openai_error(client.post("/v1/events", json={"type": "hover", "completion_id": cid}, headers=AUTH), 400)
    assert_openai_error(client.post("/v1/events", json={"type": "view", "completion_id": "cmpl-other"},
                                    headers=AUTH), 404)
