"""codefill on vLLM through the real `openai` client: FIM with and without
streaming, cancellation that aborts the vLLM request, sessions side by side.
Slow (marked `vllm`): the server takes 1-3 minutes to start, once."""

from __future__ import annotations

import json
import re
import threading
import time

import httpx
import pytest
from openai import OpenAI

from .conftest import SERVED_NAME

pytestmark = pytest.mark.vllm

FIM = dict(prompt="def is_even(n):\n    return ", suffix="\n\nprint(is_even(4))\n", max_tokens=16)


@pytest.fixture(scope="module")
def client(vllm_server):
    return OpenAI(base_url=vllm_server.base_url, api_key="unused", max_retries=0, timeout=60)


def _abort_lines(server) -> list[str]:
    return re.findall(r"aborted vLLM request \S+ \(([^)]*)\); vLLM holds (\d+) unfinished", server.log())


def test_the_converted_checkpoint_has_the_ggufs_vocabulary(converted_model):
    from llama_cpp import Llama
    from tokenizers import Tokenizer

    from codefill.models.store import resolve_model

    config = json.loads((converted_model / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert (converted_model / "model.safetensors").stat().st_size > 200_000_000  # 135M weights as bf16
    code = "def is_even(n):\n    return n % 2 == 0  # ünïcode\n"
    hf = Tokenizer.from_file(str(converted_model / "tokenizer.json")).encode(code, add_special_tokens=False).ids
    gguf = Llama(str(resolve_model("default")), vocab_only=True, verbose=False)
    assert hf == gguf.tokenize(code.encode(), add_bos=False, special=False)


def test_models_lists_the_served_model(client, vllm_server):
    assert [m.id for m in client.models.list().data] == [SERVED_NAME]
    assert httpx.get(vllm_server.url + "/ready").json()["model"] == SERVED_NAME


def test_fim_without_streaming(client):
    from llama_cpp import Llama

    from codefill.models.store import resolve_model

    r = client.completions.create(model=SERVED_NAME, **FIM)
    # The model sees the prompt as llama.cpp would show it: no BOS this model never had in training.
    gguf = Llama(str(resolve_model("default")), vocab_only=True, verbose=False)
    assert r.usage.prompt_tokens == len(gguf.tokenize(FIM["prompt"].encode(), add_bos=True))
    text = r.choices[0].text
    # Single-line mode: the line ends where the model's answer leaves it.
    assert text.strip() and "\n" not in text
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.prompt_tokens > 5 and 0 < r.usage.completion_tokens <= 16


def test_fim_streaming_gives_the_same_text_in_pieces(client):
    fim = dict(prompt="import os\n\nfiles = os.", suffix="\n", max_tokens=16)  # an answer of several tokens
    whole = client.completions.create(model=SERVED_NAME, **fim).choices[0].text
    chunks = list(client.completions.create(model=SERVED_NAME, stream=True, **fim))
    pieces = [c.choices[0].text for c in chunks if c.choices]
    assert len([p for p in pieces if p]) > 1
    assert "".join(pieces) == whole
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


def test_max_tokens_zero_warms_the_cache_and_answers_nothing(client):
    prompt = "import os\nimport sys\n\n" + "\n".join(f"VALUE_{i} = {i}" for i in range(40)) + "\n"
    first = client.completions.create(model=SERVED_NAME, prompt=prompt, max_tokens=0)
    assert first.choices[0].text == "" and first.usage.completion_tokens == 0
    second = client.completions.create(model=SERVED_NAME, prompt=prompt + "x = ", max_tokens=4)
    # vLLM's prefix cache kept the warmed prompt (whole KV blocks of it).
    assert second.usage.prompt_tokens_details.cached_tokens > 0


def test_a_client_that_leaves_aborts_the_vllm_request(vllm_server):
    before = len(_abort_lines(vllm_server))
    body = {"model": SERVED_NAME, "prompt": "# A long story about a dragon.\n", "max_tokens": 2000,
            "stream": True, "mode": "raw"}
    started = time.monotonic()
    with httpx.stream("POST", vllm_server.base_url + "/completions", json=body, timeout=60) as r:
        assert r.status_code == 200
        seen = 0
        for line in r.iter_lines():
            if line.startswith("data: {"):
                seen += 1
            if seen == 3:
                break
    deadline = time.monotonic() + 10
    while len(_abort_lines(vllm_server)) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    new = _abort_lines(vllm_server)[before:]
    assert [why for why, _ in new] == ["the consumer stopped"]
    # vLLM itself dropped it: nothing unfinished left, long before 2,000 tokens could have been made.
    assert new[0][1] == "0"
    assert time.monotonic() - started < 10


def test_two_sessions_at_once_each_get_their_own_answer(client):
    prompts = {"alice": "def is_even(n):\n    return ", "bob": "import os\n\nfiles = os."}
    alone = {user: client.completions.create(model=SERVED_NAME, prompt=p, suffix="\n", max_tokens=16).choices[0].text
             for user, p in prompts.items()}
    together: dict[str, str] = {}

    def ask(user: str) -> None:
        together[user] = client.completions.create(model=SERVED_NAME, prompt=prompts[user], suffix="\n",
                                                   max_tokens=16, user=user).choices[0].text

    threads = [threading.Thread(target=ask, args=(u,)) for u in prompts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert together == alone


def test_a_newer_request_of_a_session_supersedes_the_older(vllm_server):
    before = len(_abort_lines(vllm_server))
    body = {"model": SERVED_NAME, "prompt": "# A long story about a dragon.\n", "max_tokens": 1500, "mode": "raw",
            "user": "carol"}
    answers: dict[str, httpx.Response] = {}
    older = threading.Thread(target=lambda: answers.__setitem__(
        "older", httpx.post(vllm_server.base_url + "/completions", json=body, timeout=120)))
    older.start()
    time.sleep(1.0)
    answers["newer"] = httpx.post(vllm_server.base_url + "/completions", json={**body, "max_tokens": 8}, timeout=120)
    older.join(120)
    assert answers["newer"].status_code == 200
    assert answers["older"].status_code == 409
    assert answers["older"].json()["error"]["code"] == "superseded"
    reasons = [why for why, _ in _abort_lines(vllm_server)[before:]]
    assert any(why.startswith("superseded by") for why in reasons)
