"""POST /v1/next_edit on the scripted engine: the answer, streaming, bad input, sessions, metrics."""

from __future__ import annotations

import json

import pytest

from codefill.server.auth import KeyStore
from codefill.server.nextedit.service import next_edit_session
from codefill.server.tenants import session_key
from tests.fakes import FakeEngine
from tests.helpers import MODEL, assert_openai_error

TEXT = "def f(a):\n    return a + 1\n\nprint(f(1))\n"
DIFF = "@@ -1,2 +1,2 @@\n def f(a):\n-    return a\n+    return a + 1\n"


def body(**over) -> dict:
    b = {"model": MODEL, "path": "x.py", "text": TEXT, "cursor": {"line": 1, "character": 5},
         "history": [{"path": "x.py", "diff": DIFF}], "user": "ed-1"}
    b.update(over)
    return b


def sweep_engine(rewrite: str) -> FakeEngine:
    """Answers as a Sweep model would: the block from the cursor's line (the prompt holds the lines above)."""
    return FakeEngine(rewrite + "<|file_sep|>", n_ctx=2048)


def test_a_rewrite_becomes_minimal_edits(open_client):
    c = open_client(sweep_engine("    return a + 2\n\nprint(f(2))\n"))
    r = c.post("/v1/next_edit", json=body())
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["object"] == "next_edit" and got["format"] == "sweep" and got["no_edit"] is False
    assert got["id"].startswith("cmpl-") and got["usage"]["completion_tokens"] > 0
    assert got["edits"] == [
        {"range": {"start": {"line": 1, "character": 15}, "end": {"line": 1, "character": 16}}, "text": "2"},
        {"range": {"start": {"line": 3, "character": 8}, "end": {"line": 3, "character": 9}}, "text": "2"},
    ]


@pytest.mark.parametrize("rewrite", ["    return a + 1\n\nprint(f(1))\n", "", "NO_EDITS"])
def test_a_rewrite_that_changes_nothing_is_no_edit(open_client, rewrite):
    c = open_client(sweep_engine(rewrite))
    r = c.post("/v1/next_edit", json=body())
    assert r.status_code == 200 and r.json()["no_edit"] is True and r.json()["edits"] == []


def test_an_answer_cut_short_is_no_edit(open_client):
    c = open_client(FakeEngine("    return a + 2\n" * 50, n_ctx=2048))  # never ends the block
    assert c.post("/v1/next_edit", json=body()).json()["no_edit"] is True


def test_streaming_sends_the_answer_then_done(open_client):
    c = open_client(sweep_engine("    return a + 2\n\nprint(f(1))\n"))
    r = c.post("/v1/next_edit", json=body(stream=True))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [line[len("data: "):] for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    answer = json.loads(events[0])
    assert answer["object"] == "next_edit" and answer["edits"][0]["text"] == "2"


@pytest.mark.parametrize("change, param", [
    ({"cursor": {"line": 9, "character": 0}}, "cursor.line"),
    ({"cursor": {"line": 1, "character": 99}}, "cursor.character"),
    ({"text_offset": 5}, "cursor.line"),
    ({"history": [{"path": "x.py", "diff": "not a diff"}]}, "history[0].diff"),
    ({"history": [{"path": "x.py", "diff": "@@ -1 +1 @@\n-a\n+zzz\n"}]}, "history[0].diff"),
    ({"history": [{"path": "x.py", "diff": DIFF}] * 65}, "history"),
    ({"history": [{"path": "x.py", "diff": "@@ -1 +1 @@\n-a\n+b\n" + " x\n" * 30000}]}, "history"),
    ({"format": "nope"}, "format"),
    ({"model": "other"}, "model"),
    ({"max_tokens": 5000}, "max_tokens"),
])
def test_bad_input_is_a_4xx_naming_the_parameter(open_client, change, param):
    c = open_client(sweep_engine("x"))
    r = c.post("/v1/next_edit", json=body(**change))
    assert_openai_error(r, 404 if param == "model" else 400, param)


def test_a_window_of_the_file_is_placed_by_text_offset(open_client):
    c = open_client(sweep_engine("    return a + 2\n\nprint(f(1))\n"))
    r = c.post("/v1/next_edit", json=body(text_offset=100, cursor={"line": 101, "character": 5},
                                          history=[{"path": "x.py", "diff": DIFF.replace("1,2 +1,2", "101,2 +101,2")}]))
    assert r.status_code == 200, r.text
    assert r.json()["edits"][0]["range"]["start"] == {"line": 101, "character": 15}


def test_next_edits_have_a_session_of_their_own_per_tenant(open_client):
    engine = sweep_engine("    return a + 2\n")
    c = open_client(engine, keys=KeyStore.load(["alice=sk-alice-000000000000", "bob=sk-bob-0000000000000"]))
    for key in ("sk-alice-000000000000", "sk-bob-0000000000000"):
        assert c.post("/v1/next_edit", json=body(), headers={"Authorization": f"Bearer {key}"}).status_code == 200
    sessions = [r.session for r in engine.requests]
    assert sessions == [next_edit_session("alice", "ed-1"), next_edit_session("bob", "ed-1")]
    assert sessions[0] != sessions[1] and session_key("alice", "ed-1") not in sessions
    assert [r.cache_salt for r in engine.requests] == ["alice", "bob"]


def test_without_a_key_it_is_401(open_client):
    c = open_client(sweep_engine("x"), keys=KeyStore.load(["alice=sk-alice-000000000000"]))
    assert_openai_error(c.post("/v1/next_edit", json=body()), 401)


def test_render_shows_the_prompt_and_metrics_count_answers(open_client):
    c = open_client(sweep_engine("    return a + 2\n"))
    r = c.post("/v1/next_edit/render", json=body())
    assert r.status_code == 200 and r.json()["format"] == "sweep"
    assert "<|file_sep|>current/x.py:1:5\ndef f(a):\n    r<|cursor|>eturn a + 1\n" in r.json()["prompt"]
    c.post("/v1/next_edit", json=body())
    metrics = c.get("/metrics").text
    assert 'codefill_next_edits_total{result="edits"} 1.0' in metrics
    assert 'endpoint="/v1/next_edit",key="anonymous",status="200"' in metrics


def test_max_tokens_defaults_to_room_for_twice_the_region(open_client):
    engine = sweep_engine("    return a + 2\n")
    c = open_client(engine)
    assert c.post("/v1/next_edit", json=body()).status_code == 200
    region = "".join(line + "\n" for line in TEXT.split("\n"))  # the whole (short) file is the region
    assert engine.requests[0].max_tokens == 2 * len(region) + 64 < 2048 // 4 + 64
