"""Ollama's API (/api/generate, /api/tags, /api/show, /api/version) over the one completion
service, with a scripted engine (fast). The real `ollama` client against the real model:
tests/integration/test_dialects_live.py."""

import json

import pytest

from codefill.server.auth import KeyStore
from tests.fakes import FakeEngine

KEY = "ollama-key-123456"


@pytest.fixture
def client(open_client):
    return open_client(FakeEngine("x + 1\nmore"))


def assert_ollama_error(r, status):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body
    return body["error"]


def test_generate_not_streamed_is_one_object_with_ollamas_fields(client):
    r = client.post("/api/generate", json={"model": "fake", "prompt": "def f(x):\n    return ", "suffix": "\n",
                                          "stream": False, "options": {"num_predict": 20, "temperature": 0}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["response"] == "x + 1"  # single line: the service's post-processing ran
    assert body["done"] is True and body["done_reason"] == "stop" and body["model"] == "fake"
    for field in ("created_at", "total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
                  "eval_count", "eval_duration"):
        assert field in body
    assert body["prompt_eval_count"] > 0 and body["eval_count"] > 0


def test_generate_streams_newline_delimited_json_by_default(client):
    r = client.post("/api/generate", json={"model": "fake:latest", "prompt": "y = ", "suffix": "\n"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert all(not line["done"] for line in lines[:-1]) and lines[-1]["done"] is True
    assert "".join(line["response"] for line in lines) == "x + 1"
    assert lines[-1]["eval_count"] > 0 and lines[-1]["model"] == "fake:latest"


def test_options_map_to_the_service(client):
    engine = client.app.state.engine
    r = client.post("/api/generate", json={"model": "fake", "prompt": "a = ", "suffix": "", "stream": False,
                                          "raw": True, "template": "ignored", "keep_alive": "5m",
                                          "options": {"num_predict": 3, "top_k": 40, "num_ctx": 4096,
                                                      "seed": 7, "stop": ["\n"], "repeat_penalty": 1.1}})
    assert r.status_code == 200, r.text
    assert r.json()["response"] == "x +"
    assert r.json()["done_reason"] == "length"
    assert engine.requests[-1].max_tokens == 3


def test_empty_prompt_without_suffix_loads_the_model(client):
    r = client.post("/api/generate", json={"model": "fake"})
    assert r.status_code == 200
    assert r.json()["done_reason"] == "load"


@pytest.mark.parametrize("body, status", [
    ({"model": "nope", "prompt": "x"}, 404),
    ({"prompt": "x"}, 400),
    ({"model": "fake", "prompt": "x", "options": {"temperature": 5}}, 400),
    ({"model": "fake", "prompt": "x", "options": {"num_predict": "many"}}, 400),
    ({"model": "fake", "prompt": 3}, 400),
    ({"model": "fake", "prompt": "x", "options": {"stop": ["a", "b", "c", "d", "e"]}}, 400),
    ({"model": "fake", "prompt": "x", "options": {"num_predict": 100000}, "stream": False}, 400),
])
def test_bad_input_is_an_ollama_error(client, body, status):
    assert_ollama_error(client.post("/api/generate", json=body), status)


def test_invalid_json_is_an_ollama_error(client):
    assert_ollama_error(client.post("/api/generate", content=b"{nope", headers={"content-type": "application/json"}),
                        400)


def test_a_missing_key_is_an_ollama_error(open_client):
    c = open_client(FakeEngine("x + 1\nmore"), keys=KeyStore.load([f"k={KEY}"]))
    assert "API key" in assert_ollama_error(c.post("/api/generate", json={"model": "fake", "prompt": "x"}), 401)
    r = c.post("/api/generate", json={"model": "fake", "prompt": "x = ", "suffix": "", "stream": False},
               headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 200


def test_tags_show_version(client):
    tags = client.get("/api/tags").json()["models"]
    assert [m["name"] for m in tags] == ["fake:latest"]
    assert tags[0]["details"]["family"]
    show = client.post("/api/show", json={"model": "fake:latest"})
    assert show.status_code == 200
    assert "insert" in show.json()["capabilities"]
    assert show.json()["model_info"]["fake.context_length"] == 512
    assert_ollama_error(client.post("/api/show", json={"model": "other"}), 404)
    assert_ollama_error(client.post("/api/show", json={}), 400)
    assert client.get("/api/version").json()["version"]


def test_completions_are_counted_by_dialect(client):
    client.post("/api/generate", json={"model": "fake", "prompt": "a = ", "suffix": "", "stream": False})
    client.post("/v1/completions", json={"model": "fake", "prompt": "a = ", "suffix": ""})
    text = client.get("/metrics").text
    assert 'codefill_completions_total{dialect="ollama",stream="false"} 1.0' in text
    assert 'codefill_completions_total{dialect="openai",stream="false"} 1.0' in text


def test_a_body_without_a_json_content_type_is_read_as_json(client):
    """`curl -d '{...}'` (form-urlencoded) is how many Ollama plugins and users post."""
    r = client.post("/api/generate", content=json.dumps({"model": "fake", "prompt": "a = ", "suffix": "",
                                                          "stream": False}),
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    assert r.json()["response"] == "x + 1"
