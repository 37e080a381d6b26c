"""Gateway mode in front of a vLLM-backed upstream (the session's codefill on
vLLM), with the gateway's tokenizer read from the converted checkpoint's own
tokenizer.json, as it would be in front of vLLM replicas on GPUs.

vLLM's own OpenAI server was checked by hand (docs/BENCHMARKS.md, gateway
mode); a second vLLM here would cost another 1-3 minutes of start-up."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from openai import OpenAI

from codefill.server.engines.vocab import HfVocabulary
from tests.helpers import start_server, stop_server

from .conftest import SERVED_NAME

pytestmark = pytest.mark.vllm

FIM = dict(prompt="def is_even(n):\n    return ", suffix="\n\nprint(is_even(4))\n", max_tokens=16)


@pytest.fixture(scope="module")
def gateway(vllm_server, converted_model):
    server = start_server("--model", str(converted_model), "--served-model-name", "via-gateway",
                          "--upstream", vllm_server.url, name="gateway-vllm")
    yield server
    stop_server(server)


def test_gateway_on_vllm_answers_with_what_vllm_makes_of_its_tokens(gateway, vllm_server, converted_model):
    """The gateway's answer is the first line of what vLLM generates for the
    prompt tokens the gateway builds (the default model has no FIM tokens: the
    prefix, tokenized by the checkpoint's tokenizer.json, no BOS as its config says)."""
    direct = OpenAI(base_url=vllm_server.base_url, api_key="unused", max_retries=0, timeout=60)
    via = OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0, timeout=60)
    tokens = HfVocabulary(converted_model / "tokenizer.json").tokenize(FIM["prompt"], add_bos=True)
    raw = direct.completions.create(model=SERVED_NAME, prompt=tokens, max_tokens=16).choices[0].text
    expected = raw.split("\n")[0].rstrip()
    assert expected
    r = via.completions.create(model="via-gateway", user="g1", **FIM)
    assert r.choices[0].text == expected, raw
    chunks = list(via.completions.create(model="via-gateway", user="g2", stream=True, **FIM))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == expected
    # The gateway's context is the upstream's (vLLM's max_model_len), read from its /v1/models.
    assert httpx.get(gateway.url + "/ready", timeout=5).json()["n_ctx"] == \
        httpx.get(vllm_server.url + "/ready", timeout=5).json()["n_ctx"]


def test_a_client_leaving_the_gateway_aborts_the_vllm_request(gateway, vllm_server):
    def aborts() -> int:
        return len(re.findall(r"aborted vLLM request", vllm_server.log()))

    before = aborts()
    body = {"model": "via-gateway", "prompt": "# A long story about a dragon.\n", "max_tokens": 2000,
            "stream": True, "mode": "raw", "user": "leaver"}
    with httpx.stream("POST", gateway.base_url + "/completions", json=body, timeout=60) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: {"):
                break
    deadline = time.monotonic() + 15
    while aborts() == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert aborts() > before, "vLLM kept generating after the gateway's client left"
