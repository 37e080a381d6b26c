"""Deadlines: the `deadline_ms` field in every dialect, the typing rhythm (soft deadlines), what
reaches the engine, and a request the engine drops for its deadline (503, counted, charged)."""

from __future__ import annotations

import json
import time

import pytest

from codefill.server.engines.base import DeadlineMissed, GenerationRequest, GenerationResult
from codefill.server.service.deadlines import NO_DEADLINE, Rhythm, deadline_of
from codefill.server.tenants import session_key
from tests.fakes import FakeEngine
from tests.helpers import MODEL, assert_openai_error

BAD = [0, -1, "300", 300.5, 300.0, 60001, True, [300], {"ms": 300}]


# --- the field ------------------------------------------------------------------

@pytest.mark.parametrize("value", BAD)
def test_a_bad_deadline_is_a_400_naming_the_field(client, value):
    r = client.post("/v1/completions", json={"model": MODEL, "prompt": "x = ", "deadline_ms": value})
    err = assert_openai_error(r, 400, "deadline_ms")
    assert err["code"] == "invalid_value"


@pytest.mark.parametrize("value", [1, 250, 60000, None])
def test_a_good_deadline_is_accepted(client, value):
    r = client.post("/v1/completions", json={"model": MODEL, "prompt": "x = ", "deadline_ms": value})
    assert r.status_code == 200, r.text


def test_the_dialects_take_the_deadline_and_refuse_a_bad_one(open_client):
    engine = FakeEngine("1")
    c = open_client(engine)
    assert c.post("/infill", json={"input_prefix": "x = ", "deadline_ms": 400}).status_code == 200
    assert c.post("/api/generate", json={"model": MODEL, "prompt": "x = ", "stream": False,
                                         "deadline_ms": 400}).status_code == 200
    assert [r.deadline_hard for r in engine.requests] == [True, True]
    bad = c.post("/infill", json={"input_prefix": "x = ", "deadline_ms": 0})
    assert bad.status_code == 400 and "deadline_ms" in bad.json()["error"]["message"]
    bad = c.post("/api/generate", json={"model": MODEL, "prompt": "x = ", "deadline_ms": "1"})
    assert bad.status_code == 400 and "deadline_ms" in bad.json()["error"]


def test_the_hard_deadline_counts_from_when_the_request_came(open_client):
    engine = FakeEngine("1")
    c = open_client(engine)
    before = time.monotonic()
    c.post("/v1/completions", json={"model": MODEL, "prompt": "x = ", "deadline_ms": 500, "user": "s"})
    after = time.monotonic()
    gen = engine.requests[-1]
    assert gen.deadline_hard is True
    assert before + 0.5 <= gen.deadline <= after + 0.5


# --- the typing rhythm ----------------------------------------------------------

def test_no_rhythm_until_enough_gaps_then_the_median():
    rhythm = Rhythm(min_gaps=3)
    assert [rhythm.arrived("s", t) for t in (0.0, 0.2, 0.4)] == [None, None, None]
    assert rhythm.arrived("s", 1.4) == pytest.approx(0.2)  # gaps .2 .2 1.0: one slow keystroke moves nothing


def test_a_pause_is_not_the_typing_pace():
    rhythm = Rhythm(min_gaps=3, pause_s=3.0)
    for t in (0.0, 0.3, 0.6):
        rhythm.arrived("s", t)
    assert rhythm.arrived("s", 60.0) is None  # a pause: still two gaps
    assert rhythm.arrived("s", 60.3) == pytest.approx(0.3)


def test_the_rhythm_is_clamped_and_keeps_the_last_gaps():
    rhythm = Rhythm(min_gaps=3, gaps=4, floor_s=0.1, ceiling_s=2.0, pause_s=5.0)
    t = 0.0
    for _ in range(4):
        t += 0.01
        pace = rhythm.arrived("fast", t)
    assert pace == 0.1
    for gap in (4.0, 4.0, 4.0):
        t += gap
        pace = rhythm.arrived("slow", t)
    assert rhythm.arrived("slow", t + 4.0) == 2.0
    for _ in range(4):  # only the last four gaps count: the fast ones push the slow ones out
        t += 0.5
        pace = rhythm.arrived("slow", t + 4.0)
    assert pace == pytest.approx(0.5)


def test_implicit_sessions_count_as_typists_only_while_they_type():
    """A sessionless client gets an implicit session per document: one person who switches documents
    counts once, several typing side by side count each, and editor sessions count through a pause."""
    rhythm = Rhythm(min_gaps=3, pause_s=3.0)
    t = 0.0
    for _ in range(6):  # one person types in a.py, then moves to b.py
        t += 0.25
        rhythm.arrived("a.py", t, implicit=True)
    for _ in range(2):
        t += 0.25
        rhythm.arrived("b.py", t, implicit=True)
    assert rhythm.typing(t + 0.01) == 0  # a.py left over two gaps ago, b.py has no rhythm yet
    for _ in range(2):
        t += 0.25
        rhythm.arrived("b.py", t, implicit=True)
    rhythm.arrived("c.py", t - 0.1, implicit=True)  # a second person, just started
    assert rhythm.typing(t) == 1  # b.py only: a.py stopped, c.py has no rhythm
    for _ in range(4):  # both type side by side
        t += 0.25
        rhythm.arrived("b.py", t, implicit=True)
        rhythm.arrived("c.py", t + 0.1, implicit=True)
    assert rhythm.typing(t + 0.1) == 2
    rhythm.arrived("editor-1", t)  # an editor's session counts until a pause
    assert rhythm.typing(t + 2.9) == 1 and rhythm.typing(t + 3.1) == 0


def test_sessions_of_different_tenants_never_mix():
    rhythm = Rhythm(min_gaps=2)
    a, b = session_key("alice", "editor-1"), session_key("bob", "editor-1")
    for t in (0.0, 0.25, 0.5):
        rhythm.arrived(a, t)
    assert rhythm.arrived(a, 0.75) == pytest.approx(0.25)
    assert rhythm.arrived(b, 0.8) is None  # bob's editor-1 has no gaps of its own


def test_memory_is_bounded_and_the_least_recently_seen_go_first():
    rhythm = Rhythm(max_sessions=3, min_gaps=1)
    for i, s in enumerate(("a", "b", "c")):
        rhythm.arrived(s, float(i))
    rhythm.arrived("a", 3.0)  # a is recent again
    rhythm.arrived("d", 3.1)  # b goes
    assert len(rhythm) == 3
    assert rhythm.arrived("b", 3.2) is None  # forgotten: a gap of 2.2 s would have given a rhythm
    assert rhythm.arrived("a", 3.5) == pytest.approx(1.75)  # kept: gaps 3.0 and 0.5


def test_sessions_typing_now_are_those_seen_within_a_pause():
    rhythm = Rhythm(pause_s=3.0)
    assert rhythm.typing(0.0) == 0
    for s, at in (("a", 0.0), ("b", 1.0), ("c", 2.0), ("a", 2.5)):
        rhythm.arrived(s, at)
    assert rhythm.typing(2.6) == 3
    assert rhythm.typing(4.5) == 2  # b's last request is 3.5 s old: a pause, it is not typing
    assert rhythm.typing(6.0) == 0


def test_the_cold_window_is_shared_between_the_sessions_typing_not_only_those_in_flight(open_client):
    """Between keystrokes a typist has no request in the engine, yet its next one needs the engine's
    prompt speed as much: the service counts the sessions typing."""
    client = open_client()
    service = client.app.state.service
    for k in range(3):
        r = client.post("/v1/completions", json={"model": MODEL, "prompt": "x = 1\n", "max_tokens": 1,
                                                      "user": f"typist-{k}"})
        assert r.status_code == 200
    assert service.engine.sessions_in_flight == 0
    assert service.busy_sessions() == 3


def test_the_client_deadline_wins_over_the_rhythm():
    rhythm = Rhythm(min_gaps=1)
    assert deadline_of(rhythm, "s", 10.0, None) is NO_DEADLINE
    soft = deadline_of(rhythm, "s", 10.4, None)
    assert (soft.at, soft.hard) == (pytest.approx(10.8), False)
    hard = deadline_of(rhythm, "s", 10.8, 150)
    assert (hard.at, hard.hard) == (pytest.approx(10.95), True)
    assert deadline_of(rhythm, None, 11.0, None) is NO_DEADLINE  # no session: no rhythm


def test_a_typing_session_gets_soft_deadlines(open_client):
    engine = FakeEngine("1")
    c = open_client(engine)
    for _ in range(5):
        c.post("/v1/completions", json={"model": MODEL, "prompt": "x = ", "user": "typist"})
    assert engine.requests[0].deadline is None
    assert engine.requests[-1].deadline is not None and engine.requests[-1].deadline_hard is False


# --- dropped by the engine ------------------------------------------------------

class DroppingEngine(FakeEngine):
    """Answers `script`'s first `before` characters, then drops the request for its deadline."""

    def __init__(self, before: int = 0) -> None:
        super().__init__("abcdef")
        self.before = before

    async def generate(self, request: GenerationRequest, result: GenerationResult):
        self.requests.append(request)
        result.prompt_tokens = len(request.prompt_tokens)
        for i, ch in enumerate(self.script[:self.before]):
            result.completion_tokens = i + 1
            yield self._token(ch)
        result.finish_reason = "deadline"
        raise DeadlineMissed()

    @staticmethod
    def _token(ch: str):
        from codefill.server.engines.base import GeneratedToken
        return GeneratedToken(ord(ch), ch)


def _missed(c, stage: str, tenant: str = "anonymous") -> float:
    return c.app.state.metrics.registry.get_sample_value(
        "codefill_deadline_missed_total", {"tenant": tenant, "stage": stage}) or 0.0


def test_a_request_the_engine_drops_is_a_503_counted_and_charged_unfinished(open_client):
    c = open_client(DroppingEngine())
    r = c.post("/v1/completions", json={"model": MODEL, "prompt": "x = ", "deadline_ms": 100})
    err = assert_openai_error(r, 503, "deadline_ms")
    assert err["code"] == "deadline_exceeded"
    assert r.headers["Retry-After"] == "1"  # nothing ahead of a request like it: at least a second
    assert _missed(c, "engine") == 1
    registry = c.app.state.metrics.registry
    assert registry.get_sample_value("codefill_tenant_completions_unfinished_total", {"key": "anonymous"}) == 1


def test_a_stream_dropped_midway_ends_with_an_error_event_then_done(open_client):
    c = open_client(DroppingEngine(before=2))
    r = c.post("/v1/completions", json={"model": MODEL, "prompt": "x = ", "deadline_ms": 100, "stream": True,
                                        "mode": "raw"})
    assert r.status_code == 200
    data = [line[len("data: "):] for line in r.text.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    assert json.loads(data[0])["choices"][0]["text"] == "a"
    error = json.loads(data[-2])["error"]
    assert error["code"] == "deadline_exceeded" and error["param"] == "deadline_ms"
    assert _missed(c, "engine") == 1


# --- next edits -----------------------------------------------------------------

def test_next_edit_takes_the_deadline_and_refuses_a_bad_one(open_client):
    engine = FakeEngine("<|editable_region_end|>")
    c = open_client(engine)
    body = {"model": MODEL, "path": "a.py", "text": "x = 1\n", "cursor": {"line": 0, "character": 5}}
    assert_openai_error(c.post("/v1/next_edit", json={**body, "deadline_ms": 0}), 400, "deadline_ms")
    before = time.monotonic()
    assert c.post("/v1/next_edit", json={**body, "deadline_ms": 700}).status_code == 200
    gen = engine.requests[-1]
    assert gen.deadline_hard is True and before + 0.7 <= gen.deadline <= time.monotonic() + 0.7
    assert c.post("/v1/next_edit", json=body).status_code == 200
    assert engine.requests[-1].deadline is None
