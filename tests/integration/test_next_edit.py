"""POST /v1/next_edit on a live `codefill serve` with the real default model (SmolLM2-135M,
not a next-edit model): well-formed edits or no_edit in every format, never a 5xx; streaming ends
with [DONE]; keys, bad input, tenants and metrics as for completions."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.helpers import start_server, stop_server

pytestmark = pytest.mark.integration

KEYS = {name: f"{name}-next-edit-key-0123" for name in ("alice", "bob")}
TEXT = "def area(width, height):\n    return width * height\n\n\nprint(area(2, 3))\n"
DIFF = "@@ -1,2 +1,2 @@\n-def area(w, h):\n-    return w * h\n+def area(width, height):\n+    return width * height\n"


@pytest.fixture(scope="module")
def server():
    s = start_server(*[f"--api-key={n}={k}" for n, k in KEYS.items()], name="next-edit")
    yield s
    stop_server(s)


def _body(server, **over) -> dict:
    body = {"model": server.model, "path": "geometry.py", "language": "python", "text": TEXT,
            "cursor": {"line": 4, "character": 10}, "history": [{"path": "geometry.py", "diff": DIFF}],
            "user": "editor-1", "max_tokens": 48}
    body.update(over)
    return body


def _post(server, who: str | None = "alice", path: str = "/v1/next_edit", **over) -> httpx.Response:
    headers = {"Authorization": f"Bearer {KEYS[who]}"} if who else {}
    return httpx.post(server.url + path, json=_body(server, **over), headers=headers, timeout=300)


def _well_formed(answer: dict, text: str = TEXT) -> None:
    lines = text.split("\n")
    assert answer["object"] == "next_edit" and answer["id"].startswith("cmpl-")
    assert answer["no_edit"] is (not answer["edits"])
    assert answer["usage"]["prompt_tokens"] > 0
    previous_end = (-1, -1)
    for edit in answer["edits"]:
        start, end = edit["range"]["start"], edit["range"]["end"]
        assert previous_end <= (start["line"], start["character"]) <= (end["line"], end["character"])
        for pos in (start, end):
            assert 0 <= pos["line"] < len(lines) and 0 <= pos["character"] <= len(lines[pos["line"]])
        assert isinstance(edit["text"], str)
        previous_end = (end["line"], end["character"])


@pytest.mark.parametrize("fmt", ["sweep", "zeta", "zeta2", "instinct"])
def test_every_format_answers_well_formed_edits_or_no_edit(server, fmt):
    r = _post(server, format=fmt)
    assert r.status_code == 200, r.text
    assert r.json()["format"] == fmt
    _well_formed(r.json())


def test_the_default_format_and_a_window_of_the_file(server):
    """The default model matches no next-edit model: it gets the default format."""
    r = _post(server, text_offset=40, cursor={"line": 44, "character": 0},
              history=[{"path": "geometry.py", "diff": DIFF.replace("-1,2 +1,2", "-41,2 +41,2")}])
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["format"] == "sweep"
    for edit in answer["edits"]:
        assert 40 <= edit["range"]["start"]["line"] <= edit["range"]["end"]["line"] < 45


def test_streaming_sends_the_answer_and_ends_with_done(server):
    with httpx.stream("POST", server.url + "/v1/next_edit", json=_body(server, stream=True),
                      headers={"Authorization": f"Bearer {KEYS['alice']}"}, timeout=300) as r:
        assert r.status_code == 200
        data = [line[len("data: "):] for line in r.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    assert len(data) == 2
    _well_formed(json.loads(data[0]))


def test_without_a_key_it_is_401(server):
    r = _post(server, who=None)
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize("over, status, param", [
    ({"cursor": {"line": 50, "character": 0}}, 400, "cursor.line"),
    ({"cursor": {"line": 0, "character": 80}}, 400, "cursor.character"),
    ({"history": [{"path": "geometry.py", "diff": "not a diff at all"}]}, 400, "history[0].diff"),
    ({"history": [{"path": "geometry.py", "diff": "@@ -1 +1 @@\n-a\n+def other():\n"}]}, 400, "history[0].diff"),
    ({"history": [{"path": "geometry.py", "diff": DIFF}] * 65}, 400, "history"),
    ({"format": "gpt"}, 400, "format"),
    ({"model": "no-such-model"}, 404, "model"),
])
def test_bad_input_is_a_clear_4xx(server, over, status, param):
    r = _post(server, **over)
    assert r.status_code == status, r.text
    assert r.json()["error"]["param"] == param and r.json()["error"]["message"]


def test_another_tenants_history_never_reaches_a_prompt(server):
    secret = "alice_only_secret_name"
    diff = f"@@ -1,2 +1,2 @@\n-def {secret}(w, h):\n-    return w * h\n+def area(width, height):\n+    return width * height\n"
    mine = _post(server, "alice", path="/v1/next_edit/render", history=[{"path": "geometry.py", "diff": diff}])
    assert secret in mine.json()["prompt"]
    assert _post(server, "alice", history=[{"path": "geometry.py", "diff": diff}]).status_code == 200
    # bob, same `user`: his prompt holds his history only, and his answer is his own
    theirs = _post(server, "bob", path="/v1/next_edit/render", history=[])
    assert theirs.status_code == 200 and secret not in theirs.json()["prompt"]
    r = _post(server, "bob", history=[])
    assert r.status_code == 200
    # bob's first generation: nothing of alice's prompts (the same file start) is reused from the KV cache
    assert r.json()["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    _well_formed(r.json())


def test_metrics_count_next_edits(server):
    assert _post(server).status_code == 200
    metrics = httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {KEYS['alice']}"}).text
    assert 'codefill_next_edits_total{result="' in metrics
    assert 'endpoint="/v1/next_edit",key="alice",status="200"' in metrics
    assert 'codefill_completions_total{dialect="next_edit"' in metrics
