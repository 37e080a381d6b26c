"""Bad input, one test each, against a live `codefill serve` with API keys and
the real default model: every answer is the right 4xx with an OpenAI error
object, never a 5xx, never a hang, and the server keeps serving."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.helpers import start_server, stop_server

pytestmark = pytest.mark.integration

KEY = "bad-input-key-0123"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def server():
    # A long request timeout: other work on a small CPU can make the cold 4k-token prefill slow.
    s = start_server("--api-key", f"tester={KEY}", "--request-timeout", "300", name="bad-input")
    yield s
    stop_server(s)


def _post(server, content: bytes | str, headers: dict | None = None, timeout: float = 30) -> httpx.Response:
    return httpx.post(server.url + "/v1/completions", content=content, timeout=timeout,
                      headers={"Content-Type": "application/json", **AUTH, **(headers or {})})


def _body(server, **fields) -> bytes:
    return json.dumps({"model": server.model, "prompt": "def f():\n    return ", "max_tokens": 4, **fields}).encode()


def _error(r: httpx.Response, status: int, param: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["message"]
    if param is not None:
        assert body["error"]["param"] == param, body
    return body["error"]


def test_malformed_json(server):
    for content in (b'{"model": "x", "prompt": ', b"{'model': 'x'}", b"not json at all", b'{"a": 1}}'):
        assert _error(_post(server, content), 400)["code"] == "invalid_json"


def test_empty_body_and_json_that_is_not_an_object(server):
    assert _error(_post(server, b""), 400)["code"] == "invalid_json"
    assert _error(_post(server, b"[1, 2, 3]"), 400)["code"] == "invalid_json"
    assert _error(_post(server, b"null"), 400)["code"] == "invalid_json"


def test_invalid_utf8(server):
    r = _post(server, b'{"model": "m", "prompt": "\xff\xfe bad bytes"}')
    assert _error(r, 400)["code"] == "invalid_json"


@pytest.mark.parametrize("field,value", [
    ("prompt", 5), ("prompt", {"text": "x"}), ("max_tokens", "ten"), ("n", "two"), ("stream", "yes please"),
    ("temperature", "hot"), ("stop", 7), ("suffix", ["a"]), ("logprobs", [1]), ("user", 12),
])
def test_wrong_types(server, field, value):
    _error(_post(server, _body(server, **{field: value})), 400, field)


@pytest.mark.parametrize("field,value,status", [
    ("max_tokens", 10**12, 400), ("n", 10**9, 400), ("temperature", 1e308, 400), ("logprobs", 1000, 400),
    ("best_of", 10**6, 400), ("top_p", 1e10, 400), ("presence_penalty", -1e9, 400),
    ("prompt", [10**15], 400),
])
def test_huge_values(server, field, value, status):
    _error(_post(server, _body(server, **{field: value})), status, field)


def test_huge_seed_is_taken_as_a_seed(server):
    r = _post(server, _body(server, seed=10**40, temperature=0.8))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("field,value", [("max_tokens", -1), ("n", 0), ("n", -3), ("logprobs", -1),
                                          ("best_of", 0), ("top_p", 0)])
def test_negative_and_zero_counts(server, field, value):
    _error(_post(server, _body(server, **{field: value})), 400, field)


def test_max_tokens_zero_is_allowed_and_generates_nothing(server):
    r = _post(server, _body(server, max_tokens=0))
    assert r.status_code == 200 and r.json()["choices"][0]["text"] == ""


def test_ten_megabyte_body_is_413(server):
    big = _body(server, prompt="x" * (10 * 1024 * 1024))
    assert _error(_post(server, big), 413)["code"] == "request_too_large"
    # Without a Content-Length too (chunked): counted as it arrives.
    r = httpx.post(server.url + "/v1/completions", content=iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
                   headers={"Content-Type": "application/json", **AUTH}, timeout=30)
    _error(r, 413)


def test_prompt_past_the_context_is_trimmed_and_answered(server):
    prompt = "".join(f"value_{i} = {i} * 2\n" for i in range(800))  # ~8,000 tokens, n_ctx 4096
    # A large max_tokens leaves the prompt ~600 tokens of room (a short prefill even on a busy CPU);
    # the suffix makes it a one-line answer.
    r = _post(server, _body(server, prompt=prompt, suffix="\n", max_tokens=3500), timeout=300)
    assert r.status_code == 200, r.text
    # What the answer came from: the fitted prompt, or its cold window, whose size is shared between the
    # sessions typing (128-384 tokens; the earlier tests' requests count as typists for 3 s).
    assert 100 < r.json()["usage"]["prompt_tokens"] <= 4096 - 3500


def test_unknown_model(server):
    err = _error(_post(server, _body(server, model="gpt-17-ultra")), 404, "model")
    assert err["code"] == "model_not_found" and server.model in err["message"]


def test_missing_and_invalid_key(server):
    r = httpx.post(server.url + "/v1/completions", content=_body(server), timeout=10,
                   headers={"Content-Type": "application/json"})
    assert _error(r, 401)["code"] == "missing_api_key"
    assert _error(_post(server, _body(server), {"Authorization": "Bearer wrong-key-0000"}), 401)["code"] == \
        "invalid_api_key"
    assert _error(_post(server, _body(server), {"Authorization": KEY}), 401)["code"] == "missing_api_key"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.base_url, api_key="wrong-key-0000", max_retries=0).completions.create(
            model=server.model, prompt="x", max_tokens=1)


def test_odd_but_valid_text_is_answered(server):
    for prompt in ("\x00\x01 null bytes", "emoji 🎉 and accents é", "\u202e right-to-left"):
        r = _post(server, _body(server, prompt=prompt, suffix="\n"))
        assert r.status_code == 200, (prompt, r.text)


def test_empty_prompt_is_an_empty_answer(server):
    # SmolLM2's family has no FIM markers: an empty prompt leaves the model nothing to start from.
    for suffix in ("\n", None):
        r = _post(server, _body(server, prompt="", suffix=suffix))
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0] == {"index": 0, "text": "", "finish_reason": "stop", "logprobs": None}


def test_too_many_stop_sequences_and_unknown_endpoint(server):
    _error(_post(server, _body(server, stop=["a", "b", "c", "d", "e"])), 400, "stop")
    assert _error(httpx.get(server.url + "/v1/nothing-here", headers=AUTH), 404)
    assert _error(httpx.get(server.url + "/v1/completions", headers=AUTH), 405)


def test_server_still_answers_and_logged_no_tracebacks(server):
    client = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)
    r = client.completions.create(model=server.model, prompt="def add(a, b):\n    return ", max_tokens=8)
    assert r.usage.completion_tokens > 0
    assert "Traceback" not in server.log()
    assert " 500" not in server.log()
