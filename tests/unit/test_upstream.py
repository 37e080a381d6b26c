"""Gateway mode's engine without processes: settings, what goes upstream (the
session header, cache_salt, token ids), how upstream SSE chunks are read, and
how each upstream failure is answered, against httpx's MockTransport. The real
thing (a real upstream, a real gateway) is tests/integration/test_gateway.py."""

from __future__ import annotations

import json

import httpx
import pytest

from codefill.config import load_settings
from codefill.server.engines.base import EngineError, GenerationRequest, GenerationResult, Superseded
from codefill.server.engines.upstream import UpstreamEngine, _Job

URL = "http://10.0.0.1:8000"
SSE = (b'data: {"choices": [{"index": 0, "text": "ab", "finish_reason": null}]}\n\n'
       b'data: {"choices": [{"index": 0, "text": "", "finish_reason": "stop"}]}\n\n'
       b'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1, '
       b'"prompt_tokens_details": {"cached_tokens": 2}}}\n\n'
       b"data: [DONE]\n\n")


@pytest.mark.parametrize("url", ["a:1", "ftp://a"])
def test_bad_upstream_urls_are_refused(url):
    with pytest.raises(ValueError):
        UpstreamEngine(url, "unused.gguf", model_id="m")


def test_upstream_from_the_environment_and_flags(monkeypatch):
    monkeypatch.setenv("CODEFILL_UPSTREAM", "http://router:8000")
    assert load_settings().upstream == "http://router:8000"
    assert load_settings(upstream="http://c:1").upstream == "http://c:1"


def _engine(handler=None, **kwargs) -> UpstreamEngine:
    transport = httpx.MockTransport(handler) if handler else None
    engine = UpstreamEngine(URL + "/v1/", "unused.gguf", model_id="m", transport=transport, **kwargs)
    engine.upstream_model = "served-model"
    return engine


async def _run(engine: UpstreamEngine, request: GenerationRequest) -> tuple[list, GenerationResult]:
    job, result = _Job(request), GenerationResult()
    await engine._send(job, result)
    tokens = []
    while not job.out.empty():
        tokens.append(job.out.get_nowait())
    return tokens, result


async def test_a_request_carries_session_header_cache_salt_and_token_ids():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=SSE, headers={"Content-Type": "text/event-stream"})

    engine = _engine(handler, api_key="up-key")
    request = GenerationRequest([1, 2, 3], 8, request_id="req-1", session="4:team/editor-7", cache_salt="team")
    tokens, result = await _run(engine, request)
    [sent] = seen
    assert sent.url == URL + "/v1/completions"
    assert sent.headers["x-session-id"] == "4:team/editor-7"
    assert sent.headers["authorization"] == "Bearer up-key"
    assert sent.headers["x-request-id"] == "req-1"
    body = json.loads(sent.content)
    assert body["model"] == "served-model" and body["prompt"] == [1, 2, 3] and body["stream"] is True
    assert body["user"] == "4:team/editor-7" and body["cache_salt"] == "team"
    assert [t.text for t in tokens] == ["ab"]
    assert (result.prompt_tokens, result.completion_tokens, result.cached_prompt_tokens) == (3, 1, 2)
    assert result.finish_reason == "stop"
    await engine.close()


async def test_no_session_no_header_and_open_mode_no_salt():
    seen: list[httpx.Request] = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, content=SSE)

    engine = _engine(handler)
    await _run(engine, GenerationRequest([1], 4))
    assert "x-session-id" not in seen[0].headers and "authorization" not in seen[0].headers
    assert "cache_salt" not in json.loads(seen[0].content) and "user" not in json.loads(seen[0].content)
    await engine.close()


@pytest.mark.parametrize(("status", "headers", "retry_after", "code"), [
    (503, {"Retry-After": "7"}, "7", "upstream_overloaded"),
    (503, {}, "2", "upstream_overloaded"),
    (429, {"Retry-After": "3"}, "3", "rate_limit_exceeded"),
])
async def test_upstream_back_pressure_reaches_the_client_with_retry_after(status, headers, retry_after, code):
    engine = _engine(lambda r: httpx.Response(status, headers=headers,
                                              json={"error": {"message": "busy", "code": None}}))
    with pytest.raises(EngineError) as failed:
        await _run(engine, GenerationRequest([1], 4, session="s"))
    assert failed.value.status == status
    assert failed.value.headers == {"Retry-After": retry_after}
    assert failed.value.code == code
    await engine.close()


async def test_an_upstream_error_code_is_kept_with_its_503():
    engine = _engine(lambda r: httpx.Response(503, json={"error": {"message": "draining",
                                                                   "code": "server_shutting_down"}}))
    with pytest.raises(EngineError) as failed:
        await _run(engine, GenerationRequest([1], 4))
    assert (failed.value.status, failed.value.code) == (503, "server_shutting_down")
    await engine.close()


async def test_an_unreachable_upstream_is_a_503_with_retry_after():
    def refuse(request):
        raise httpx.ConnectError("refused", request=request)

    engine = _engine(refuse)
    with pytest.raises(EngineError) as failed:
        await _run(engine, GenerationRequest([1], 4))
    assert (failed.value.status, failed.value.code) == (503, "upstream_unavailable")
    assert failed.value.headers == {"Retry-After": "2"}
    await engine.close()


async def test_a_stream_broken_after_tokens_is_a_502():
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self):
            yield b'data: {"choices": [{"index": 0, "text": "ab", "finish_reason": null}]}\n\n'
            raise httpx.RemoteProtocolError("peer closed connection")

    engine = _engine(lambda r: httpx.Response(200, stream=Broken()))
    with pytest.raises(EngineError) as failed:
        await _run(engine, GenerationRequest([1], 4))
    assert (failed.value.status, failed.value.code) == (502, "upstream_failed")
    await engine.close()


@pytest.mark.parametrize(("status", "mapped"), [(400, 400), (404, 400), (500, 502), (502, 502), (504, 504)])
async def test_other_upstream_refusals_are_clean_errors(status, mapped):
    engine = _engine(lambda r: httpx.Response(status, text="no"))
    with pytest.raises(EngineError) as failed:
        await _run(engine, GenerationRequest([1], 4))
    assert failed.value.status == mapped and failed.value.code == "upstream_error"
    await engine.close()


async def test_superseded_on_the_upstream():
    engine = _engine(lambda r: httpx.Response(409, json={"error": {"message": "x", "code": "superseded"}}))
    with pytest.raises(Superseded):
        await _run(engine, GenerationRequest([1], 4))
    await engine.close()


def test_upstream_chunks_become_tokens_and_usage():
    engine, result = _engine(), GenerationResult()
    tokens = engine._tokens({"choices": [{"index": 0, "text": "ab", "finish_reason": None}]}, result)
    assert [t.text for t in tokens] == ["ab"] and result.completion_tokens == 1
    engine._tokens({"choices": [{"index": 0, "text": "", "finish_reason": "length"}]}, result)
    engine._tokens({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3,
                                             "prompt_tokens_details": {"cached_tokens": 5}}}, result)
    assert (result.prompt_tokens, result.completion_tokens, result.cached_prompt_tokens) == (7, 3, 5)
    assert result.finish_reason == "length"


def test_upstream_error_events_fail_cleanly():
    engine = _engine()
    with pytest.raises(Superseded):
        engine._tokens({"error": {"message": "x", "code": "superseded"}}, GenerationResult())
    with pytest.raises(EngineError) as failed:
        engine._tokens({"error": {"message": "boom", "code": "internal_error"}}, GenerationResult())
    assert failed.value.status == 502 and "boom" in failed.value.message


async def test_the_model_is_asked_for_on_the_first_request_when_start_up_could_not():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "late-model", "max_model_len": 2048}]})
        assert json.loads(request.content)["model"] == "late-model"
        return httpx.Response(200, content=SSE)

    engine = _engine(handler)
    engine.upstream_model = None
    tokens, _ = await _run(engine, GenerationRequest([1], 4))
    assert engine.upstream_model == "late-model" and [t.text for t in tokens] == ["ab"]
    await engine.close()


async def test_an_upstream_without_a_model_list_is_a_clean_502():
    engine = _engine(lambda r: httpx.Response(200, text="<html>not an API</html>"))
    engine.upstream_model = None
    with pytest.raises(EngineError) as failed:
        await _run(engine, GenerationRequest([1], 4))
    assert (failed.value.status, failed.value.code) == (502, "upstream_error")
    await engine.close()
