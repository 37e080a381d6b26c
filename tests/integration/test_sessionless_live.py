"""Implicit sessions for real (server/service/sessionless.py): a live `codefill serve` with two
API keys, the real default model on the llama.cpp engine with two sequences, llama.vim's and
llama.vscode's `/infill` without any session.

- A sessionless client typing in four files in turn keeps each file's KV state: from each
  file's second keystroke on, nearly all of its prompt is cached (`timings.cache_n`). With two
  sequences, each keystroke sends the least recently used one's state to RAM, saved under its
  session. Without implicit sessions every sessionless request of a tenant had one session, so
  RAM held one state of them, which the next eviction replaced: the fourth file's first
  keystroke lost the first file's state.
- The same client types through its last answer (answered from memory, nothing evaluated).
- Another tenant's identical request reuses nothing of it (cache_n 0): its implicit session is
  its own, and so is its cache salt.
- Two sessionless requests of one file side by side are both answered (no 409).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.helpers import start_server, stop_server

pytestmark = pytest.mark.integration

KEYS = {name: f"{name}-sessionless-key-0123" for name in ("alice", "bob")}

# Four files of 120-170 tokens each: short enough that no cold window is built (that starts at twice
# --cold-window, 384 tokens), so every keystroke evaluates its whole prompt, from the cache where it can.
def _file(name: str, kind: str) -> tuple[str, str]:
    head = f"from {name} import {kind}\n\n\n" + "".join(
        f"def {name}_{i}(value):\n    return {kind}(value, {i})\n\n\n" for i in range(6))
    return head, f"\n\nif __name__ == '__main__':\n    {name}_0(1)\n"


FILES = {name: _file(name, kind) for name, kind in (("geometry", "area"), ("records", "load"), ("network", "send"),
                                                     ("storage", "write"))}


@pytest.fixture(scope="module")
def server():
    s = start_server(*[f"--api-key={n}={k}" for n, k in KEYS.items()], "--sequences", "2", "--step-tokens", "128",
                     name="sessionless")
    yield s
    stop_server(s)


def _infill(server, who: str, prefix: str, suffix: str, n_predict: int = 8) -> dict:
    r = httpx.post(server.url + "/infill", json={"input_prefix": prefix, "input_suffix": suffix, "n_predict": n_predict,
                                                 "stream": False},
                   headers={"Authorization": f"Bearer {KEYS[who]}"}, timeout=300)
    assert r.status_code == 200, r.text
    return r.json()


def _cached_share(answer: dict) -> float:
    timings = answer["timings"]
    return timings["cache_n"] / (timings["cache_n"] + timings["prompt_n"])


def test_sessionless_keystrokes_in_four_files_keep_their_caches_and_tenants_share_nothing(server):
    shares: dict[str, list[float]] = {name: [] for name in FILES}
    last = {}
    for k in range(2):
        for name, (head, suffix) in FILES.items():  # in turn: geometry, records, network, storage, geometry, ...
            # Each keystroke ends a line (no typing-through: that needs the line unfinished).
            prefix = head + "".join(f"value_{j} = {j}\n" for j in range(k + 1))
            last[name] = (prefix, suffix)
            shares[name].append(_cached_share(_infill(server, "alice", prefix, suffix)))
    for name, share in shares.items():
        assert min(share[1:]) > 0.8, (name, shares)  # its own state, though three files came between
    other = _infill(server, "bob", *last["geometry"])  # bob sends alice's last prompt, byte for byte
    assert other["timings"]["cache_n"] == 0, other
    again = _infill(server, "bob", last["geometry"][0] + "value_9 = 9\n", last["geometry"][1])
    assert _cached_share(again) > 0.8, again  # bob keeps a state of his own all the same


def test_a_sessionless_client_types_through_its_last_answer_and_only_it(server):
    head, suffix = FILES["network"]
    prefix = head + "def network_main():\n    return "
    first = _infill(server, "alice", prefix, suffix, n_predict=16)
    assert len(first["content"].split("\n")[0]) > 2, first  # a first line to type into
    typed = first["content"][:2]
    second = _infill(server, "alice", prefix + typed, suffix, n_predict=16)
    assert second["content"] == first["content"][2:] and second["timings"]["prompt_n"] == 0, second
    other = _infill(server, "bob", prefix + typed, suffix, n_predict=16)  # the same keystroke, another tenant
    assert other["timings"]["prompt_n"] > 0, other  # evaluated: alice's answer is not bob's memory


def test_sessionless_requests_side_by_side_are_both_answered(server):
    head, suffix = FILES["geometry"]
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda line: _infill(server, "alice", head + line, suffix), ["x = 1\n", "y = 2\n"]))
    assert len(done) == 2  # _infill asserts 200: neither was superseded (409)
