"""The dialects against a live server with the real default model: the real `ollama` client,
and exactly what llama.vscode sends to /infill. Each answer is the one `/v1/completions` gives
for the same code: one service, one pipeline.

llama.cpp's numbers differ slightly between a prompt evaluated cold and one taken from the KV
cache, which can flip a near tie; so each comparison asks OpenAI's route once before (the cache
then holds the prompt for both) and compares with its second answer."""

from __future__ import annotations

import json
import time

import httpx
import ollama
import pytest

pytestmark = pytest.mark.integration

PREFIX = "def add(a, b):\n    return "
SUFFIX = "\n\n\nprint(add(1, 2))\n"


def warm(server, prefix: str, suffix: str, max_tokens: int, **extra) -> None:
    openai_answer(server, prefix, suffix, max_tokens, **extra)


def openai_answer(server, prefix: str, suffix: str, max_tokens: int, **extra) -> str:
    r = httpx.post(server.base_url + "/completions", json={"model": server.model, "prompt": prefix,
                                                           "suffix": suffix, "max_tokens": max_tokens,
                                                           "temperature": 0, **extra}, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]["text"]


def test_ollama_client_generate_with_suffix(live_server):
    client = ollama.Client(host=live_server.url, timeout=120)
    names = [m.model for m in client.list().models]
    assert names == [f"{live_server.model}:latest"]
    assert "insert" in (client.show(names[0]).capabilities or [])
    warm(live_server, PREFIX, SUFFIX, 24)
    answer = client.generate(model=names[0], prompt=PREFIX, suffix=SUFFIX, stream=False,
                             options={"num_predict": 24, "temperature": 0})
    assert answer.done and answer.done_reason in ("stop", "length")
    assert answer.response.strip(), answer
    assert "\n" not in answer.response  # single line: codefill's post-processing ran
    assert answer.eval_count and answer.prompt_eval_count
    assert answer.response == openai_answer(live_server, PREFIX, SUFFIX, 24)


def test_ollama_client_streams(live_server):
    client = ollama.Client(host=live_server.url, timeout=120)
    warm(live_server, PREFIX, SUFFIX, 24)
    parts = list(client.generate(model=live_server.model, prompt=PREFIX, suffix=SUFFIX, stream=True,
                                 options={"num_predict": 24, "temperature": 0}))
    assert len(parts) >= 2 and parts[-1].done and not any(p.done for p in parts[:-1])
    text = "".join(p.response for p in parts)
    assert text.strip() and text == openai_answer(live_server, PREFIX, SUFFIX, 24)


def test_ollama_client_sees_ollama_errors(live_server):
    client = ollama.Client(host=live_server.url, timeout=60)
    with pytest.raises(ollama.ResponseError) as exc:
        client.generate(model="no-such-model", prompt="x", stream=False)
    assert exc.value.status_code == 404 and "not found" in exc.value.error
    with pytest.raises(ollama.ResponseError) as exc:
        client.generate(model=live_server.model, prompt="x", options={"temperature": 9}, stream=False)
    assert exc.value.status_code == 400 and "temperature" in exc.value.error


def llama_vscode_request(input_prefix: str, prompt: str, input_suffix: str, chunks: list[dict], nindent: int) -> dict:
    """llama.vscode's createRequestPayload(false, ...): the body of its /infill completion request."""
    return {"input_prefix": input_prefix, "input_suffix": input_suffix, "input_extra": chunks, "prompt": prompt,
            # n_predict is llama.vscode's setting (128 by default), lowered to keep the test short
            "n_predict": 32, "top_k": 40, "top_p": 0.99, "stream": False, "samplers": ["top_k", "top_p", "infill"],
            "cache_prompt": True, "n_indent": nindent, "t_max_prompt_ms": 500, "t_max_predict_ms": 1000}


def test_llama_vscode_infill(live_server):
    # llama.vscode: the lines before the cursor's line, the cursor's line so far, the rest of the line and below
    lines_before, line = "def add(a, b):\n", "    return "
    chunks = [{"text": "def mul(a, b):\n    return a * b\n", "time": 1700000000000, "filename": "ops.py"}]
    prewarm = {"input_prefix": "", "input_suffix": "", "input_extra": chunks, "prompt": "", "n_predict": 0,
               "samplers": [], "cache_prompt": True, "t_max_prompt_ms": 500, "t_max_predict_ms": 1}
    r = httpx.post(live_server.url + "/infill", json=prewarm, timeout=120)
    assert r.status_code == 200 and r.json()["content"] == "", r.text
    extra = [{"filename": "ops.py", "text": chunks[0]["text"]}]
    warm(live_server, lines_before + line, SUFFIX, 32, input_extra=extra)
    r = httpx.post(live_server.url + "/infill",
                   json=llama_vscode_request(lines_before, line, SUFFIX, chunks, nindent=4), timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["content"].strip() and body["stop"] is True
    for field in ("tokens_predicted", "tokens_evaluated", "tokens_cached", "truncated", "timings", "stop_type"):
        assert field in body, field
    for field in ("prompt_n", "prompt_ms", "predicted_n", "predicted_ms"):
        assert field in body["timings"], field
    assert body["tokens_predicted"] > 0 and body["tokens_evaluated"] > 0
    expected = openai_answer(live_server, lines_before + line, SUFFIX, 32, input_extra=extra)
    assert body["content"] == expected


def test_infill_streams(live_server):
    r = httpx.post(live_server.url + "/infill", json={"input_prefix": "def add(a, b):\n", "prompt": "    return ",
                                                      "input_suffix": SUFFIX, "n_predict": 24, "stream": True},
                   timeout=120)
    assert r.status_code == 200, r.text
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1]["stop"] is True and events[-1]["tokens_predicted"] > 0
    assert "".join(e["content"] for e in events).strip()


def test_render_shows_what_the_model_sees(live_server):
    r = httpx.post(live_server.base_url + "/completions/render",
                   json={"model": live_server.model, "prompt": PREFIX, "suffix": SUFFIX}, timeout=60)
    assert r.status_code == 200, r.text
    (p,) = r.json()["prompts"]
    assert p["text"].endswith("return") and p["healed"] == " "  # the default model heals the trailing space
    assert p["tokens"] > 0 and p["language"] == "python" and p["mode"] == "single_line"


def _metric(server, name: str) -> float:
    for line in httpx.get(server.url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_an_ollama_client_that_leaves_frees_the_engine(live_server):
    """Leaving an Ollama stream closes the service's stream: the admission is given back and the
    next request does not wait for the 1,500 tokens the first asked for (about 10 s)."""
    counting = "".join(f"{i}, " for i in range(1, 40))
    body = {"model": live_server.model, "prompt": counting, "options": {"num_predict": 1500}}
    with httpx.stream("POST", live_server.url + "/api/generate", json=body, timeout=30) as r:
        for n, _ in enumerate(r.iter_lines()):
            if n == 5:
                break  # leaving the block closes the connection
    deadline = time.monotonic() + 5
    while _metric(live_server, "codefill_admission_pending") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _metric(live_server, "codefill_admission_pending") == 0
    started = time.monotonic()
    r = httpx.post(live_server.url + "/api/generate", timeout=30,
                   json={"model": live_server.model, "prompt": "x = ", "stream": False, "options": {"num_predict": 2}})
    assert r.status_code == 200
    assert time.monotonic() - started < 5, "the abandoned generation kept the engine busy"
