"""What the bridge sends to POST /v1/completions and how it reads failures,
against httpx's MockTransport (the end-to-end tests use the real server)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from codefill.lsp.api import CodefillAPI, ServerProblem
from codefill.lsp.context import CompletionContext
from codefill.lsp.settings import Settings

CTX = CompletionContext(prefix="def f():\n    return", suffix="\n", language="python", filepath="src/f.py",
                        line_suffix="", extra=[{"filename": "g.py", "text": "G = 1\n"}])


def models(request):
    return httpx.Response(200, json={"object": "list", "data": [{"id": "coder-1b", "object": "model"}]})


def completion(text="x"):
    return httpx.Response(200, json={"object": "text_completion", "model": "coder-1b",
                                     "choices": [{"index": 0, "text": text, "finish_reason": "stop"}]})


class Recorder:
    def __init__(self, answer):
        self.requests: list[httpx.Request] = []
        self.answer = answer

    def __call__(self, request: httpx.Request):
        self.requests.append(request)
        if request.url.path == "/v1/models":
            return models(request)
        return self.answer(request)

    @property
    def bodies(self):
        return [json.loads(r.content) for r in self.requests if r.url.path == "/v1/completions"]


async def test_request_carries_the_session_and_the_context():
    rec = Recorder(lambda r: completion(" 1"))
    api = CodefillAPI("codefill-lsp-abc", transport=httpx.MockTransport(rec))
    settings = Settings(server_url="http://srv:8000", api_key="sk-1", mode="single_line", max_tokens=40)
    assert (await api.complete(CTX, settings)).text == " 1"
    await api.complete(CTX, settings, max_tokens=0)
    first, warm = rec.bodies
    assert first == {"model": "coder-1b", "prompt": CTX.prefix, "suffix": "\n", "max_tokens": 40, "stream": False,
                     "user": "codefill-lsp-abc", "mode": "single_line", "language": "python",
                     "filepath": "src/f.py", "input_extra": [{"filename": "g.py", "text": "G = 1\n"}],
                     "deadline_ms": 1500}
    # A pre-warm has no one waiting for it: no deadline.
    assert warm["max_tokens"] == 0 and warm["user"] == "codefill-lsp-abc" and "deadline_ms" not in warm
    # The model list is asked for once, and every request carries the key.
    assert [r.url.path for r in rec.requests] == ["/v1/models", "/v1/completions", "/v1/completions"]
    assert all(r.headers["authorization"] == "Bearer sk-1" for r in rec.requests)
    # The session as a header too, for load balancers that hash on it.
    assert all(r.headers["x-session-id"] == "codefill-lsp-abc" for r in rec.requests)
    await api.close()


async def test_no_authorization_header_without_a_key_and_an_explicit_model_skips_the_list():
    rec = Recorder(lambda r: completion())
    api = CodefillAPI("s", transport=httpx.MockTransport(rec))
    await api.complete(CTX, Settings(model="mine"))
    assert [r.url.path for r in rec.requests] == ["/v1/completions"]
    assert "authorization" not in rec.requests[0].headers
    assert rec.bodies[0]["model"] == "mine"


async def test_deadline_ms_as_configured_and_left_out_at_zero():
    rec = Recorder(lambda r: completion())
    api = CodefillAPI("s", transport=httpx.MockTransport(rec))
    await api.complete(CTX, Settings(model="m", deadline_ms=250))
    await api.complete(CTX, Settings(model="m", deadline_ms=0))
    assert rec.bodies[0]["deadline_ms"] == 250
    assert "deadline_ms" not in rec.bodies[1]


@pytest.mark.parametrize("status, body, kind", [
    (503, {"error": {"message": "The model is still loading.", "type": "x", "code": "model_loading"}}, "loading"),
    (401, {"error": {"message": "Invalid API key.", "type": "x", "code": "invalid_api_key"}}, "auth"),
    (400, {"error": {"message": "max_tokens is too large", "type": "x", "param": "max_tokens"}}, "rejected"),
    (409, {"error": {"message": "This request was superseded", "type": "x", "code": "superseded"}}, "superseded"),
    (503, {"error": {"message": "could not finish before its deadline", "type": "x", "param": "deadline_ms",
                     "code": "deadline_exceeded"}}, "deadline"),
])
async def test_error_answers_become_problems_with_the_servers_message(status, body, kind):
    api = CodefillAPI("s", transport=httpx.MockTransport(Recorder(lambda r: httpx.Response(status, json=body))))
    with pytest.raises(ServerProblem) as err:
        await api.complete(CTX, Settings())
    assert err.value.kind == kind
    assert body["error"]["message"] in err.value.message


async def test_model_not_found_makes_the_bridge_ask_for_the_model_again():
    answers = iter([httpx.Response(404, json={"error": {"message": "no such model", "type": "x",
                                                        "code": "model_not_found"}}), completion()])
    rec = Recorder(lambda r: next(answers))
    api = CodefillAPI("s", transport=httpx.MockTransport(rec))
    with pytest.raises(ServerProblem):
        await api.complete(CTX, Settings())
    await api.complete(CTX, Settings())
    assert [r.url.path for r in rec.requests] == ["/v1/models", "/v1/completions", "/v1/models", "/v1/completions"]


async def test_unreachable_and_bad_answers():
    def refuse(request):
        raise httpx.ConnectError("Connection refused", request=request)

    api = CodefillAPI("s", transport=httpx.MockTransport(refuse))
    with pytest.raises(ServerProblem) as err:
        await api.complete(CTX, Settings(server_url="http://nowhere:1"))
    assert err.value.kind == "unreachable" and "http://nowhere:1" in err.value.message
    api = CodefillAPI("s", transport=httpx.MockTransport(Recorder(lambda r: httpx.Response(200, json={}))))
    with pytest.raises(ServerProblem) as err:
        await api.complete(CTX, Settings())
    assert err.value.kind == "bad_response"


async def test_the_timeout_bounds_the_whole_call():
    async def slow(request):
        await asyncio.sleep(5)
        return completion()

    api = CodefillAPI("s", transport=httpx.MockTransport(slow))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ServerProblem) as err:
        await api.complete(CTX, Settings(timeout_ms=200))
    assert err.value.kind == "timeout"
    assert loop.time() - started < 1.5
