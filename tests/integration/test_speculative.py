"""Speculative decoding (prompt lookup) on the real model: the same answers as
decoding one token at a time, drafts accepted where the code repeats, and the
counts on /metrics."""

import re

import httpx
import pytest

from tests.helpers import start_server, stop_server

pytestmark = pytest.mark.integration

PROMPTS = [
    ("class TestParser(unittest.TestCase):\n    def test_one(self):\n        self.assertEqual(parse('a'), ['a'])\n"
     "        self.assertEqual(parse('b'), ['b'])\n        self.assertEqual(parse('c'), ['c'])\n        self.assertEqual(",
     "\n"),
    ("import os\n\nfiles = os.listdir(os.path.join(root, 'data'))\nnames = os.listdir(os.path.join(", "\n"),
    ("def is_even(n):\n    return ", "\n\nprint(is_even(4))\n"),
    ("PARSER.add_argument('--input', type=str, help='input file')\nPARSER.add_argument('--output', type=str, help=",
     ")\n"),
]


@pytest.fixture(scope="module")
def speculative_server():
    srv = start_server("--speculative", "ngram", "--num-speculative-tokens", "6", name="speculative")
    yield srv
    stop_server(srv)


def _complete(srv, prompt, suffix, **extra):
    body = {"model": srv.model, "prompt": prompt, "suffix": suffix, "max_tokens": 48, "temperature": 0, **extra}
    r = httpx.post(srv.base_url + "/completions", json=body, timeout=300)
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]["text"]


def _counter(srv, name):
    text = httpx.get(srv.url + "/metrics", timeout=30).text
    m = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def test_same_answers_with_and_without_drafts(live_server, speculative_server):
    # Greedy decoding checks each draft against the model's own argmax, so the
    # answers are the same. Only in exact arithmetic, though: a batch of tokens
    # goes through other matrix kernels than one token (repacked Q8_0/Q4_0
    # weights especially), and after a few dozen tokens a near-tie can tip the
    # other way. Single lines must match; long raw answers on their first line.
    for prompt, suffix in PROMPTS:
        assert _complete(speculative_server, prompt, suffix, mode="single_line") == \
            _complete(live_server, prompt, suffix, mode="single_line"), prompt
        raw = [_complete(srv, prompt, suffix, mode="raw") for srv in (speculative_server, live_server)]
        assert raw[0].split("\n")[0] == raw[1].split("\n")[0], (prompt, raw)
    drafted = _counter(speculative_server, "codefill_speculative_draft_tokens_total")
    accepted = _counter(speculative_server, "codefill_speculative_accepted_tokens_total")
    assert drafted > 0 and 0 < accepted <= drafted
    # The server without speculation drafts nothing.
    assert _counter(live_server, "codefill_speculative_draft_tokens_total") == 0


def test_sampled_requests_do_not_draft(speculative_server):
    before = _counter(speculative_server, "codefill_speculative_draft_tokens_total")
    _complete(speculative_server, PROMPTS[0][0], "\n", temperature=0.8, seed=1, mode="raw")
    assert _counter(speculative_server, "codefill_speculative_draft_tokens_total") == before


def test_llama_cpp_refuses_a_draft_model():
    with pytest.raises(RuntimeError, match="prompt lookup only"):
        start_server("--speculative", "draft:some/model", name="speculative-bad", ready_timeout=60)
