"""Gateway mode's pieces without processes: the hash ring, the pool's choice
of replicas, settings, and how upstream SSE chunks are read. The real thing
(real upstreams, one killed) is tests/integration/test_gateway.py."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from codefill.config import load_settings
from codefill.server.api.errors import APIError
from codefill.server.engines.base import GenerationResult, Superseded
from codefill.server.engines.replicas import HashRing, ReplicaPool
from codefill.server.engines.upstream import UpstreamEngine

URLS = ["http://10.0.0.1:8000", "http://10.0.0.2:8000", "http://10.0.0.3:8000"]
KEYS = [f"session-{i}" for i in range(3000)]


def test_ring_walks_every_replica_once_from_a_stable_home():
    ring = HashRing(URLS)
    for key in KEYS[:50]:
        walk = list(ring.walk(key))
        assert sorted(walk) == sorted(URLS)
        assert walk == list(HashRing(list(reversed(URLS))).walk(key)), "placement depends on the order given"


def test_ring_spreads_sessions_evenly():
    ring = HashRing(URLS)
    shares = Counter(next(ring.walk(k)) for k in KEYS)
    assert set(shares) == set(URLS)
    assert all(0.25 < n / len(KEYS) < 0.42 for n in shares.values()), shares


async def test_a_dead_replica_moves_only_its_own_sessions():
    pool = ReplicaPool(URLS)
    for r in pool.replicas.values():
        r.alive = True
    homes = {k: pool.candidates(k)[0].url for k in KEYS}
    dead = pool.replicas[URLS[1]]
    pool.mark_dead(dead, "test")
    moved = {k for k in KEYS if pool.candidates(k)[0].url != homes[k]}
    assert moved == {k for k in KEYS if homes[k] == URLS[1]}
    assert all(pool.candidates(k)[0] is not dead for k in KEYS)
    # Back in: everyone is home again.
    pool._mark_alive(dead)
    assert all(pool.candidates(k)[0].url == homes[k] for k in KEYS)
    for r in pool.replicas.values():
        r.alive = False
    assert pool.candidates("anyone") == []
    await pool.close()


@pytest.mark.parametrize("urls", [["http://a:1", "http://a:1/"], ["a:1"], ["ftp://a"]])
def test_bad_upstream_lists_are_refused(urls):
    with pytest.raises(ValueError):
        ReplicaPool(urls)


def test_upstreams_from_the_environment_are_comma_separated(monkeypatch):
    monkeypatch.setenv("CODEFILL_UPSTREAM", "http://a:8000, http://b:8000")
    assert load_settings().upstream == ["http://a:8000", "http://b:8000"]
    assert load_settings(upstream=["http://c:1"]).upstream == ["http://c:1"]


def _engine() -> UpstreamEngine:
    return UpstreamEngine(ReplicaPool(URLS[:1]), "unused.gguf", model_id="m")


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
    with pytest.raises(APIError) as failed:
        engine._tokens({"error": {"message": "boom", "code": "internal_error"}}, GenerationResult())
    assert failed.value.status == 502 and "boom" in failed.value.message


async def test_a_slow_poll_needs_a_second_one_and_a_refused_connection_does_not():
    answers: list = []

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "m", "max_model_len": 2048}]})
        return httpx.Response(answer)

    pool = ReplicaPool(URLS[:1])
    await pool.client.aclose()
    pool.client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    replica = pool.replicas[URLS[0]]
    answers[:] = [200, None]  # /health, then /v1/models
    assert await pool.check(replica) and replica.alive and replica.max_model_len == 2048
    answers[:] = [httpx.ReadTimeout("slow")]
    assert not await pool.check(replica) and replica.alive, "one slow poll took a busy replica out"
    answers[:] = [503]
    assert not await pool.check(replica) and not replica.alive
    answers[:] = [200]
    assert await pool.check(replica) and replica.alive
    answers[:] = [httpx.ConnectError("refused")]
    assert not await pool.check(replica) and not replica.alive
    await pool.close()
