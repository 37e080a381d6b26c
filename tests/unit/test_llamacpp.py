"""llama.cpp server's /infill and /props over the one completion service, with a scripted engine
(fast). llama.vscode's exact request against the real model: tests/integration/test_dialects_live.py."""

import json

import pytest

from codefill.server.api.dialects.llamacpp import IndentFloor
from codefill.server.auth import KeyStore
from tests.fakes import FakeEngine

KEY = "llamacpp-key-123456"


@pytest.fixture
def client(open_client):
    return open_client(FakeEngine("x + 1\nmore"))


def llama_vscode_body(input_prefix: str, prompt: str, input_suffix: str, **over) -> dict:
    """What llama.vscode's createRequestPayload sends for a completion."""
    body = {"input_prefix": input_prefix, "input_suffix": input_suffix,
            "input_extra": [{"text": "def helper(a, b):\n    return a * b\n", "time": 1700000000000,
                             "filename": "utils.py"}],
            "prompt": prompt, "n_predict": 128, "top_k": 40, "top_p": 0.99, "stream": False,
            "samplers": ["top_k", "top_p", "infill"], "cache_prompt": True, "n_indent": 4,
            "t_max_prompt_ms": 500, "t_max_predict_ms": 1000}
    return {**body, **over}


def assert_llamacpp_error(r, status):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"code", "message", "type"} and err["code"] == status and err["message"], err
    return err


def test_infill_answers_with_llama_cpp_fields(client):
    r = client.post("/infill", json=llama_vscode_body("def f(x):\n", "    return ", "\n"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["content"] == "x + 1"
    assert body["stop"] is True and body["stop_type"] in ("eos", "limit")
    assert body["tokens_predicted"] > 0 and body["tokens_evaluated"] > 0
    for field in ("prompt_n", "prompt_ms", "predicted_n", "predicted_ms", "predicted_per_second"):
        assert field in body["timings"]
    for field in ("tokens_cached", "truncated", "generation_settings", "model", "has_new_line"):
        assert field in body
    engine = client.app.state.engine
    shown = engine.detokenize(engine.requests[-1].prompt_tokens)
    assert shown.endswith("def f(x):\n    return ")  # prompt goes after input_prefix, as llama.cpp does
    assert shown.startswith("# utils.py\ndef helper(a, b):")  # input_extra, `time` and all


def test_prewarm_request_generates_nothing(client):
    r = client.post("/infill", json={"input_prefix": "", "input_suffix": "", "input_extra": [], "prompt": "",
                                     "n_predict": 0, "samplers": [], "cache_prompt": True,
                                     "t_max_prompt_ms": 500, "t_max_predict_ms": 1})
    assert r.status_code == 200, r.text
    assert r.json()["content"] == ""


def test_infill_streams_server_sent_events_ending_with_stop(client):
    r = client.post("/infill", json=llama_vscode_body("a = 1\n", "b = ", "\n", stream=True))
    assert r.status_code == 200, r.text
    events = [json.loads(line[len("data: "):]) for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1]["stop"] is True and "timings" in events[-1]
    assert all(e["stop"] is False for e in events[:-1])
    assert "".join(e["content"] for e in events) == "x + 1"


@pytest.mark.parametrize("body", [
    {"input_prefix": 5},
    {"input_prefix": "x", "n_predict": -5},
    {"input_prefix": "x", "temperature": 9},
    {"input_prefix": "x", "input_extra": "nope"},
    {"input_prefix": "x", "n_predict": 100000},
    {"input_prefix": "x", "stop": ["a", "b", "c", "d", "e"]},
    {"input_prefix": "x", "model": "other"},
])
def test_bad_input_is_a_llama_cpp_error(client, body):
    r = client.post("/infill", json=body)
    assert_llamacpp_error(r, 404 if "model" in body else 400)


def test_a_missing_key_is_a_llama_cpp_error(open_client):
    c = open_client(FakeEngine("x + 1\nmore"), keys=KeyStore.load([f"k={KEY}"]))
    assert_llamacpp_error(c.post("/infill", json={"input_prefix": "x"}), 401)
    r = c.post("/infill", json={"input_prefix": "x = ", "input_suffix": "\n"},
               headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 200, r.text


def test_props(client):
    props = client.get("/props").json()
    assert props["default_generation_settings"]["n_ctx"] == 512
    assert props["total_slots"] >= 1
    assert client.get("/health").json() == {"status": "ok"}  # codefill's own, unchanged


def test_indent_floor_ends_before_a_shallower_line():
    floor = IndentFloor(4)
    text = "".join(floor.push(ch) for ch in "x = 1\n    y = 2\n\n    z\nw = 3\n")
    assert text + floor.finish() == "x = 1\n    y = 2\n\n    z"
    assert floor.done


def test_indent_floor_off_passes_everything():
    floor = IndentFloor(0)
    assert floor.push("a\nb\n") + floor.finish() == "a\nb\n"
