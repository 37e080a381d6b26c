"""The HTTP API's shapes and errors, with a scripted engine (fast).

The same behaviours are shown on the real model in tests/integration."""

import asyncio
import json
import logging

import openai.types
import pytest

from codefill.server.settings import HttpSettings
from tests.fakes import FakeEngine
from tests.helpers import MODEL, assert_openai_error, in_process, make_client, post, wait_ready

# --- the happy path, checked against the openai package's own types ------------

def test_completion_has_openai_shape(client):
    r = post(client, {"model": MODEL, "prompt": "a", "max_tokens": 20})
    assert r.status_code == 200
    completion = openai.types.Completion.model_validate(r.json())
    assert completion.object == "text_completion"
    assert completion.choices[0].text == "x = 1\ny = 2"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens == 1
    assert completion.usage.completion_tokens == 11
    assert completion.usage.total_tokens == 12


def test_length_finish_reason(client):
    r = post(client, {"model": MODEL, "prompt": "a", "max_tokens": 3})
    assert r.json()["choices"][0] == {"index": 0, "text": "x =", "finish_reason": "length", "logprobs": None}


def test_n_and_prompt_list_give_indexed_choices(client):
    r = post(client, {"model": MODEL, "prompt": ["a", "b"], "n": 2, "max_tokens": 1})
    choices = r.json()["choices"]
    assert [c["index"] for c in choices] == [0, 1, 2, 3]
    assert r.json()["usage"]["prompt_tokens"] == 2  # each prompt counted once


def test_echo_puts_prompt_first(client):
    r = post(client, {"model": MODEL, "prompt": "abc", "echo": True, "max_tokens": 1})
    assert r.json()["choices"][0]["text"] == "abcx"


def test_max_tokens_zero_only_warms(client):
    r = post(client, {"model": MODEL, "prompt": "abc", "max_tokens": 0})
    assert r.json()["choices"][0]["text"] == ""
    assert r.json()["usage"]["completion_tokens"] == 0


def test_logprobs_shape(client):
    r = post(client, {"model": MODEL, "prompt": "a", "max_tokens": 3, "logprobs": 1})
    completion = openai.types.Completion.model_validate(r.json())
    lp = completion.choices[0].logprobs
    assert lp.tokens == ["x", " ", "="]
    assert lp.text_offset == [0, 1, 2]
    assert lp.token_logprobs == [-0.5] * 3


def test_token_id_prompt(client):
    r = post(client, {"model": MODEL, "prompt": [ord("h"), ord("i")], "max_tokens": 1, "echo": True})
    assert r.json()["choices"][0]["text"] == "hix"


def test_unknown_fields_are_accepted_and_logged(client, caplog):
    with caplog.at_level(logging.INFO, logger="codefill.serving"):
        r = post(client, {"model": MODEL, "prompt": "a", "max_tokens": 1, "frobnicate": 3, "cache_prompt": True})
    assert r.status_code == 200
    assert "frobnicate" in caplog.text and "cache_prompt" in caplog.text


def test_suffix_request_is_post_processed(client):
    with make_client(FakeEngine("x))\nmore")) as c:
        wait_ready(c)
        r = post(c, {"model": MODEL, "prompt": "print(foo(", "suffix": ")\n", "max_tokens": 20})
    assert r.json()["choices"][0]["text"] == "x)"
    assert r.json()["choices"][0]["finish_reason"] == "stop"


# --- streaming, byte-exact ---------------------------------------------------

def test_stream_wire_format(client):
    r = post(client, {"model": MODEL, "prompt": "a", "max_tokens": 3, "stream": True,
                      "stream_options": {"include_usage": True}})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    raw = r.text
    assert raw.endswith("data: [DONE]\n\n")
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    payloads = [json.loads(e[len("data: "):]) for e in events[:-1]]
    text_chunks, usage_chunk = payloads[:-1], payloads[-1]
    for chunk in text_chunks:
        # OpenAI streams finish_reason null until the last chunk; the package's
        # type (made for whole completions) allows only strings there.
        whole = json.loads(json.dumps(chunk))
        whole["choices"][0]["finish_reason"] = whole["choices"][0]["finish_reason"] or "stop"
        openai.types.Completion.model_validate(whole)
        assert chunk["usage"] is None
    assert [c["choices"][0]["finish_reason"] for c in text_chunks] == [None] * (len(text_chunks) - 1) + ["length"]
    assert "".join(c["choices"][0]["text"] for c in text_chunks) == "x ="
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 3
    assert len({c["id"] for c in payloads}) == 1


def test_stream_without_usage_has_no_usage_key(client):
    raw = post(client, {"model": MODEL, "prompt": "a", "max_tokens": 2, "stream": True}).text
    first = json.loads(raw.split("\n\n")[0][len("data: "):])
    assert "usage" not in first


def test_error_during_stream_is_an_event_then_done():
    class Broken(FakeEngine):
        async def generate(self, request, result):
            yield await _token()
            raise RuntimeError("engine fell over")

    async def _token():
        from codefill.server.engines.base import GeneratedToken
        return GeneratedToken(120, "x")

    with make_client(Broken()) as c:
        wait_ready(c)
        raw = post(c, {"model": MODEL, "prompt": "a", "stream": True}).text
    events = [e for e in raw.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    error = json.loads(events[-2][len("data: "):])
    assert set(error["error"]) == {"message", "type", "param", "code"}


class _Unreachable(FakeEngine):
    """Fails every request before its first token, with a status and a header to pass on."""

    async def generate(self, request, result):
        from codefill.server.engines.base import EngineError
        raise EngineError(503, "the upstream is unreachable", code="upstream_unavailable",
                          headers={"Retry-After": "2"})
        yield  # an async generator, like every engine's


def test_an_engine_error_is_answered_with_its_status_code_and_headers():
    with make_client(_Unreachable()) as c:
        wait_ready(c)
        r = post(c, {"model": MODEL, "prompt": "a"})
        error = assert_openai_error(r, 503)
        assert error["code"] == "upstream_unavailable" and r.headers["retry-after"] == "2"
        # Streamed, the same: a stream's status and headers wait for its first body.
        r = post(c, {"model": MODEL, "prompt": "a", "stream": True})
        error = assert_openai_error(r, 503)
        assert error["code"] == "upstream_unavailable" and r.headers["retry-after"] == "2"


NEXT_EDIT = {"model": MODEL, "path": "x.py", "text": "x = 1\n", "cursor": {"line": 0, "character": 5}, "stream": True}


@pytest.mark.parametrize("path,body,error_of", [
    ("/v1/completions", {"model": MODEL, "prompt": "a", "stream": True}, lambda b: b["error"]["message"]),
    ("/v1/next_edit", NEXT_EDIT, lambda b: b["error"]["message"]),
    ("/infill", {"input_prefix": "a", "input_suffix": "", "stream": True}, lambda b: b["error"]["message"]),
    ("/api/generate", {"model": MODEL, "prompt": "a"}, lambda b: b["error"]),  # Ollama streams by default
])
def test_a_stream_that_fails_before_its_first_body_gets_the_status_and_headers(path, body, error_of):
    """Every dialect's stream: the failure is the response (its status, its Retry-After), not a 200
    stream with an error event in it, so a client can tell when to ask again."""
    with make_client(_Unreachable()) as c:
        wait_ready(c)
        r = c.post(path, json=body)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "2" and r.headers["content-type"].startswith("application/json")
        assert "unreachable" in error_of(r.json())
        assert c.get("/metrics").text.count("codefill_admission_pending 0.0") == 1  # the ticket given back


async def test_a_client_that_leaves_before_a_streams_first_body_stops_its_work():
    """While a stream's headers wait for its first body, a client that hangs up still stops the engine."""
    started, stopped = asyncio.Event(), asyncio.Event()

    class Slow(FakeEngine):
        async def generate(self, request, result):
            started.set()
            try:
                await asyncio.sleep(60)
                yield  # never reached
            finally:
                stopped.set()

    async with in_process(Slow()) as (app, c):
        body = json.dumps({"model": MODEL, "prompt": "a", "stream": True}).encode()
        left, asked, sent = asyncio.Event(), [], []

        async def receive():
            if not asked:
                asked.append(True)
                return {"type": "http.request", "body": body, "more_body": False}
            await left.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/v1/completions", "raw_path": b"/v1/completions", "query_string": b"",
                 "root_path": "", "headers": [(b"content-type", b"application/json"), (b"host", b"t")],
                 "client": ("127.0.0.1", 1), "server": ("t", 80)}
        answering = asyncio.create_task(app(scope, receive, send))
        await asyncio.wait_for(started.wait(), 5)
        assert not sent, "headers went out before the first body"
        left.set()
        await asyncio.wait_for(stopped.wait(), 5)
        await asyncio.wait_for(answering, 5)
        assert [m["status"] for m in sent if m["type"] == "http.response.start"] in ([], [499])
        metrics = (await c.get("/metrics")).text
        assert "codefill_admission_pending 0.0" in metrics
        assert "codefill_completions_cancelled_total 1.0" in metrics


# --- errors ------------------------------------------------------------------

@pytest.mark.parametrize("body,param", [
    ({"model": MODEL, "prompt": "a", "max_tokens": -1}, "max_tokens"),
    ({"model": MODEL, "prompt": "a", "stop": ["1", "2", "3", "4", "5"]}, "stop"),
    ({"model": MODEL, "prompt": "a", "temperature": "hot"}, "temperature"),
    ({"model": MODEL, "prompt": "a", "temperature": 3}, "temperature"),
    ({"model": MODEL, "prompt": 12}, "prompt"),
    ({"model": MODEL, "prompt": []}, "prompt"),
    ({"prompt": "a"}, "model"),
    ({"model": MODEL}, "prompt"),
    ({"model": MODEL, "prompt": "a", "n": 0}, "n"),
    ({"model": MODEL, "prompt": "a", "n": 17}, "n"),
    ({"model": MODEL, "prompt": "a", "logprobs": 6}, "logprobs"),
    ({"model": MODEL, "prompt": "a", "logprobs": 1, "echo": True}, "logprobs"),
    ({"model": MODEL, "prompt": "a", "best_of": 3}, "best_of"),
    ({"model": MODEL, "prompt": "a", "stream_options": {"include_usage": True}}, "stream_options"),
    ({"model": MODEL, "prompt": "a", "max_tokens": 10_000}, "max_tokens"),
    ({"model": MODEL, "prompt": [5, -3]}, "prompt"),
    ({"model": MODEL, "prompt": "a", "mode": "sideways"}, "mode"),
    ({"model": MODEL, "prompt": "a", "stop": [""]}, "stop"),
])
def test_bad_parameters_are_400_naming_the_param(client, body, param):
    error = assert_openai_error(post(client, body), 400, param)
    assert error["type"] == "invalid_request_error"
    assert param in error["message"] or param.replace("_", " ") in error["message"]


def test_malformed_json_is_400(client):
    r = client.post("/v1/completions", content=b'{"model": "fake", "prompt": ', headers={"content-type": "application/json"})
    assert assert_openai_error(r, 400)["code"] == "invalid_json"


def test_invalid_utf8_is_400(client):
    r = client.post("/v1/completions", content=b'{"model": "fake", "prompt": "\xff\xfe"}',
                    headers={"content-type": "application/json"})
    assert assert_openai_error(r, 400)["code"] == "invalid_json"


def test_json_that_is_not_an_object_is_400(client):
    assert_openai_error(client.post("/v1/completions", json=[1, 2]), 400)
    assert_openai_error(client.post("/v1/completions", content=b"", headers={"content-type": "application/json"}), 400)


def test_unknown_model_is_404(client):
    error = assert_openai_error(post(client, {"model": "gpt-5", "prompt": "a"}), 404, "model")
    assert error["code"] == "model_not_found"


def test_unknown_endpoint_and_method_are_openai_errors(client):
    assert_openai_error(client.get("/v1/nothing"), 404)
    assert_openai_error(client.get("/v1/completions"), 405)


def test_body_too_large_is_413():
    with make_client(http=HttpSettings(max_body_bytes=2048)) as c:
        wait_ready(c)
        r = post(c, {"model": MODEL, "prompt": "x" * 5000})
        assert_openai_error(r, 413)

        def chunks():  # no Content-Length: counted as it arrives
            yield b'{"model": "fake", "prompt": "'
            for _ in range(10):
                yield b"y" * 1000
            yield b'"}'

        r = c.post("/v1/completions", content=chunks(), headers={"content-type": "application/json"})
        assert_openai_error(r, 413)
        assert post(c, {"model": MODEL, "prompt": "a", "max_tokens": 1}).status_code == 200


def test_503_while_loading_then_ready():
    gate = asyncio.Event()

    class Slow(FakeEngine):
        async def start(self):
            await gate.wait()
            await super().start()

    engine = Slow()
    with make_client(engine) as c:
        assert c.get("/health").json() == {"status": "ok"}
        error = assert_openai_error(c.get("/ready"), 503)
        assert error["code"] == "model_loading"
        r = post(c, {"model": MODEL, "prompt": "a"})
        assert_openai_error(r, 503)
        assert r.headers["retry-after"]
        c.portal.call(gate.set)
        wait_ready(c)
        assert post(c, {"model": MODEL, "prompt": "a", "max_tokens": 1}).status_code == 200


def test_load_failure_is_reported_by_ready():
    class Broken(FakeEngine):
        async def start(self):
            raise RuntimeError("not a model")

    with make_client(Broken()) as c:
        for _ in range(100):
            r = c.get("/ready")
            if r.json()["error"]["code"] == "model_load_failed":
                break
        assert "not a model" in assert_openai_error(r, 503)["message"]


def test_huge_prompt_is_trimmed_not_refused():
    engine = FakeEngine("ok", n_ctx=300)
    with make_client(engine) as c:
        wait_ready(c)
        prompt = "".join(f"line {i}\n" for i in range(5000))
        r = post(c, {"model": MODEL, "prompt": prompt, "suffix": "tail\n" * 1000, "max_tokens": 50})
    assert r.status_code == 200, r.text
    sent = engine.requests[-1].prompt_tokens
    assert len(sent) <= 300 - 50
    assert engine.detokenize(sent).endswith("line 4999\n")  # the code nearest the cursor survives


def test_models_endpoint(client):
    body = client.get("/v1/models").json()
    page = openai.types.Model.model_validate(body["data"][0])
    assert page.id == MODEL
    assert body["data"][0]["max_model_len"] == 512


def test_metrics_endpoint_counts_requests(client):
    post(client, {"model": MODEL, "prompt": "a", "max_tokens": 2})
    text = client.get("/metrics").text
    assert 'codefill_http_requests_total{endpoint="/v1/completions",key="anonymous",status="200"}' in text
    assert "codefill_completion_tokens_total 2.0" in text


def test_openapi_schema_documents_extensions(client):
    schema = client.get("/openapi.json").json()
    props = schema["components"]["schemas"]["CompletionRequest"]["properties"]
    assert "mode" in props and "suffix" in props


def test_async_client_against_asgi_app():
    """The ASGI app also works in-process with httpx (what tests of clients use)."""
    async def go():
        async with in_process(FakeEngine("yo")) as (_, c):
            r = await c.post("/v1/completions", json={"model": MODEL, "prompt": "a"})
            return r.json()["choices"][0]["text"]

    assert asyncio.run(go()) == "yo"


def test_typing_through_answers_from_the_last_completion_without_the_model():
    engine = FakeEngine("o(bar)")
    with make_client(engine) as c:
        wait_ready(c)
        ask = lambda prefix, user="u1": post(c, {"model": MODEL, "prompt": prefix, "suffix": "\n", "user": user,
                                                 "max_tokens": 20}).json()["choices"][0]["text"]
        assert ask("x = fo") == "o(bar)"
        assert len(engine.requests) == 1
        assert ask("x = foo") == "(bar)"          # typed "o": the rest, no model
        assert ask("x = foo(b") == "ar)"          # typed "(b"
        assert len(engine.requests) == 1
        assert ask("x = foo(bz") == "o(bar)"      # typed something else: the model again
        assert ask("x = foo(bzo", user="u2") == "o(bar)"  # another session has its own memory
        assert len(engine.requests) == 3
        assert "codefill_completions_typed_through_total 2.0" in c.get("/metrics").text


def test_a_place_asked_again_unchanged_gets_the_same_answer_without_the_model():
    engine = FakeEngine("o(bar)")
    with make_client(engine) as c:
        wait_ready(c)
        body = {"model": MODEL, "prompt": "x = fo", "suffix": "\n", "user": "u1", "max_tokens": 20}
        ask = lambda **change: post(c, {**body, **change}).json()["choices"][0]["text"]
        assert ask() == "o(bar)" and len(engine.requests) == 1
        assert ask() == "o(bar)" and len(engine.requests) == 1  # the same request: remembered
        assert ask(max_tokens=8) == "o(bar)" and len(engine.requests) == 2  # another option: the model again
        assert ask(max_tokens=8) == "o(bar)" and len(engine.requests) == 2
        assert ask(max_tokens=8, temperature=0.7) == "o(bar)" and len(engine.requests) == 3  # sampled: never
        assert ask(max_tokens=8, user="u2") == "o(bar)" and len(engine.requests) == 4  # another session's own
        metrics = c.get("/metrics").text
        assert "codefill_completions_repeated_total 2.0" in metrics


def test_a_repeated_answer_comes_as_it_came_the_first_time():
    # In the same pieces when streamed, with the same token counts (the prompt all cached), and the same
    # finish reason: a client, or a dialect's tokens_predicted / eval_count, cannot tell it was remembered.
    engine = FakeEngine("o(bar) + baz")
    with make_client(engine) as c:
        wait_ready(c)
        body = {"model": MODEL, "prompt": "x = fo", "suffix": "\n", "user": "u1", "max_tokens": 4, "stream": True,
                "stream_options": {"include_usage": True}}

        def ask():
            events = [json.loads(e[len("data: "):]) for e in post(c, body).text.split("\n\n")
                      if e.startswith("data: {")]
            pieces = [(e["choices"][0]["text"], e["choices"][0]["finish_reason"]) for e in events if e["choices"]]
            return pieces, events[-1]["usage"]

        first, first_usage = ask()
        again, again_usage = ask()
        assert len(engine.requests) == 1 and len(first) > 1
        assert again == first and again[-1][1] == "length"
        assert again_usage["completion_tokens"] == first_usage["completion_tokens"] > 0
        assert again_usage["prompt_tokens"] == first_usage["prompt_tokens"] > 0
        assert again_usage["prompt_tokens_details"]["cached_tokens"] == again_usage["prompt_tokens"]
