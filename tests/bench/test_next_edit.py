"""`codefill bench next-edit`: mining cases, scoring, the floor rule, and a short run against the live server."""

import io
import json
import subprocess
import sys
import tarfile

import pytest

from codefill.bench import next_edit, next_edit_cases, next_edit_floor, next_edit_mine, next_edit_score
from codefill.bench.next_edit_cases import Case, apply_edits, position_at
from codefill.bench.next_edit_score import Answer
from tests.helpers import start_server, stop_server

OLD = """import os


def load(name):
    return open(name).read()


def save(name, data):
    with open(name, "w") as f:
        f.write(data)


def size(name):
    return os.path.getsize(name)


def remove(name):
    os.remove(name)
"""
# Three hunks: a new import, a changed function, a new line at the end.
NEW = """import os
import shutil


def load(name):
    return open(name).read()


def save(name, data):
    with open(name, "w", encoding="utf-8") as f:
        f.write(data)


def size(name):
    return os.path.getsize(name)


def remove(name):
    os.remove(name)
    shutil.rmtree(name + ".d", ignore_errors=True)
"""


def _sdist(tmp_path, name: str, files: dict[str, str]):
    path = tmp_path / f"{name}.tar.gz"
    with tarfile.open(path, "w:gz") as t:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}/{rel}")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def change():
    return next_edit_mine.change_of("demo 1.0->1.1", "demo/io.py", OLD, NEW)


def test_the_miner_reads_the_package_sources_of_two_sdists(tmp_path):
    old = _sdist(tmp_path, "demo-1.0", {"demo/io.py": OLD, "tests/test_io.py": "x = 1\n", "setup.py": "",
                                        "demo/same.py": "a = 1\n", "docs/conf.py": ""})
    new = _sdist(tmp_path, "demo-1.1", {"demo/io.py": NEW, "tests/test_io.py": "x = 2\n", "setup.py": "#",
                                        "demo/same.py": "a = 1\n", "demo/added.py": "b = 2\n"})
    a, b = next_edit_mine.read_sources(old), next_edit_mine.read_sources(new)
    assert sorted(a) == ["demo/io.py", "demo/same.py"] and sorted(b) == ["demo/added.py", "demo/io.py", "demo/same.py"]
    [found] = next_edit_mine.changes_between("demo 1.0->1.1", a, b)  # unchanged and one-sided files left out
    assert found.path == "demo/io.py" and len(found.hunks) == 3
    assert next_edit_mine.changes_between("demo 1.0->1.1", a, b, max_chars=100) == []
    assert next_edit_mine.parse_spec("six:1.16.0:1.17.0") == {"name": "six", "from": "1.16.0", "to": "1.17.0"}
    with pytest.raises(ValueError, match="NAME:FROM:TO"):
        next_edit_mine.parse_spec("six==1.17.0")


def test_a_change_of_three_hunks_is_two_edit_cases_and_a_quiet_one(change, tmp_path):
    assert [(h.start, h.end) for h in change.hunks] == [(1, 1), (8, 9), (18, 18)]
    assert change.texts()[0] == OLD and change.texts()[-1] == NEW
    first, second, quiet = next_edit_cases.cases_of(change)
    assert [c.quiet for c in (first, second, quiet)] == [False, False, True]
    assert first.id == "demo 1.0->1.1/demo/io.py#1" and len(first.history) == 1 and len(quiet.history) == 3
    # The cursor is at the end of the last edit; the expected text is the next hunk applied.
    assert first.cursor == {"line": 1, "character": len("import shutil")}
    assert second.cursor == {"line": 9, "character": len('    with open(name, "w", encoding="utf-8") as f:')}
    assert quiet.cursor == {"line": 19, "character": len('    shutil.rmtree(name + ".d", ignore_errors=True)')}
    assert first.expected == second.text and second.expected == NEW and quiet.text == NEW
    assert quiet.expected is None
    # The history diffs are real unified diffs: git applies them, oldest first, to the old file.
    (tmp_path / "demo").mkdir()
    target = tmp_path / "demo" / "io.py"
    target.write_text(OLD)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    for event in quiet.history:
        assert event["path"] == "demo/io.py"
        subprocess.run(["git", "apply", "-"], input=event["diff"], text=True, cwd=tmp_path, check=True)
    assert target.read_text() == NEW


def test_cases_survive_their_file_and_sampling_is_seeded(change, tmp_path):
    case_set = next_edit_cases.CaseSet([{"name": "demo", "from": "1.0", "to": "1.1"}], [change])
    next_edit_cases.save(case_set, tmp_path / "cases.json")
    loaded = next_edit_cases.load(tmp_path / "cases.json")
    assert loaded.packages == case_set.packages and loaded.changes == [change]
    assert [c.id for c in loaded.cases()] == [c.id for c in case_set.cases()]
    shipped = next_edit_cases.load()
    names = {p["name"] for p in shipped.packages}
    assert len(names) >= 4 and {c.package.split()[0] for c in shipped.changes} == names
    cases = shipped.cases()
    assert len(cases) > 100 and sum(c.quiet for c in cases) >= 15
    a = next_edit_cases.select(cases, limit=5, seed=1)
    assert [c.id for c in a] == [c.id for c in next_edit_cases.select(cases, limit=5, seed=1)]
    assert [c.id for c in a] != [c.id for c in next_edit_cases.select(cases, limit=5, seed=2)]
    assert [cases.index(c) for c in a] == sorted(cases.index(c) for c in a)


def test_positions_count_utf16_units_and_edits_apply_by_them():
    text = "a = '\U0001F600'\nb = 1\n"
    assert position_at(text, text.index("'", 5)) == {"line": 0, "character": 7}  # the emoji is two units
    edit = {"range": {"start": {"line": 0, "character": 7}, "end": {"line": 1, "character": 1}}, "text": "'\nc"}
    assert apply_edits(text, [edit]) == "a = '\U0001F600'\nc = 1\n"
    past_the_line = {"range": {"start": {"line": 1, "character": 99}, "end": {"line": 1, "character": 99}},
                     "text": "  # one"}
    assert apply_edits(text, [past_the_line]) == "a = '\U0001F600'\nb = 1  # one\n"
    with pytest.raises(ValueError, match="past the end"):
        apply_edits(text, [{"range": {"start": {"line": 5, "character": 0}, "end": {"line": 5, "character": 0}},
                            "text": "x"}])
    with pytest.raises(ValueError, match="overlap"):
        apply_edits(text, [edit, {**edit, "text": "y"}])


def _case(text: str, expected: str | None) -> Case:
    return Case(id="t", path="t.py", text=text, cursor={"line": 0, "character": 0}, history=[], expected=expected)


def _edit(line: int, start: int, end: int, new: str) -> dict:
    return {"range": {"start": {"line": line, "character": start}, "end": {"line": line, "character": end}},
            "text": new}


def test_metrics_on_hand_made_answers():
    text = "x = f(a)\ny = f(b)\nz = 3\n"
    case = _case(text, "x = g(a)\ny = g(b)\nz = 3\n")
    right = next_edit_score.score(case, Answer([_edit(0, 4, 5, "g"), _edit(1, 4, 5, "g")], False, 0.2,
                                               usage={"prompt_tokens": 120, "completion_tokens": 9}))
    assert right.exact and right.changed and right.similarity == 1.0 and right.error is None
    half = next_edit_score.score(case, Answer([_edit(0, 4, 5, "g")], False, 0.4))
    assert not half.exact and 0.5 < half.similarity < 1.0
    wrong_place = next_edit_score.score(case, Answer([_edit(2, 4, 5, "4")], False, 0.6))
    nothing = next_edit_score.score(case, Answer([], True, 0.8))
    assert not nothing.changed and nothing.similarity == 0.0
    # The lines between the right place and the wrong one count for nothing.
    assert wrong_place.changed and wrong_place.similarity == 0.0
    broken = next_edit_score.score(case, Answer([_edit(7, 0, 0, "x")], False, 0.1))
    assert broken.error and broken.similarity == 0.0 and not broken.exact

    quiet = _case(text, None)
    restated = next_edit_score.score(quiet, Answer([_edit(0, 4, 5, "f")], False, 0.3))
    assert restated.quiet and not restated.changed  # edits that only restate the text count as no edit
    spoke = next_edit_score.score(quiet, Answer([_edit(0, 4, 5, "h")], False, 0.3))
    failed = next_edit_score.score(quiet, Answer(error="HTTP 500: boom"))

    s = next_edit_score.summarize("t", [right, half, wrong_place, nothing, broken, restated, spoke, failed])
    assert (s["cases"], s["edit_cases"], s["quiet_cases"]) == (8, 5, 3)
    assert s["exact"] == 0.2 and s["proposed"] == 0.6 and s["quiet"] == round(1 / 3, 4) and s["errors"] == 2
    assert s["p50_ms"] == 300.0 and s["p90_ms"] == 600.0  # errors have no latency worth counting
    assert s["prompt_tokens"] == 120.0 and s["completion_tokens"] == 9.0  # of the answers that say
    table = next_edit_score.format_table([s])
    assert table.splitlines()[0].split() == list(next_edit_score.COLUMNS) and "5 edit cases, 3 quiet" in table


def test_delta_chrf_similarity():
    sim = next_edit_score.similarity
    assert sim("a", "b", "b") == 1.0 and sim("", "", "") == 1.0
    assert sim("abc", "abc", "abd") == 0.0  # no change
    assert sim("abc", "abcx", "abcy") == 0.0  # nothing in common
    assert sim("return a", "return b", "return c") == 0.5  # the same text taken out, the wrong one put in
    before, expected = "return a\n", "return a + c\n"
    close, further = sim(before, "return a + b\n", expected), sim(before, "return a +\n", expected)
    assert 0 < further < close < 1
    # Recall counts twice: leaving out part of the change costs more than adding to it.
    assert sim(before, "return a +\n", expected) < sim(before, "return a + c + d\n", expected)
    # Removed text counts as added text does: taking out part of what should go beats adding more.
    assert sim("f(a, b)\n", "f(a, b, c)\n", "f(a)\n") < sim("f(a, b)\n", "f(a, )\n", "f(a)\n") < 1
    assert next_edit_score.regions("a\nb\nc\n", "a\nB\nc\n", "a\nb\nC\n") == ["b\nc\n", "B\nc\n", "b\nC\n"]


def _diff(path: str, before: str, after: str) -> dict:
    return {"path": path, "diff": next_edit_cases.unified_diff(path, before, after)}


def test_the_floor_carries_the_last_edit_to_the_next_occurrence_after_the_cursor():
    before = "x = compute(a)\ny = compute(b)\nz = compute_all(c)\nw = compute(d)\n"
    after = before.replace("x = compute(a)", "x = evaluate(a)")
    history = [_diff("m.py", before, after)]
    edits = next_edit_floor.predict(after, {"line": 0, "character": 14}, history, "m.py")
    assert apply_edits(after, edits) == after.replace("y = compute(b)", "y = evaluate(b)")
    # Whole words only: compute_all is not compute; after y's line the next is w's.
    text = apply_edits(after, edits)
    edits = next_edit_floor.predict(text, {"line": 1, "character": 15}, history, "m.py")
    assert apply_edits(text, edits).splitlines()[2:] == ["z = compute_all(c)", "w = evaluate(d)"]
    # Nothing after the cursor, another file's history, no history: no edit.
    assert next_edit_floor.predict(after, {"line": 3, "character": 5}, history, "m.py") == []
    assert next_edit_floor.predict(after, {"line": 0, "character": 0}, history, "other.py") == []
    assert next_edit_floor.predict(after, {"line": 0, "character": 0}, [], "m.py") == []


def test_the_floor_anchors_an_insertion_and_reads_diffs_without_headers():
    assert next_edit_floor.replacements("f(a)\n", "f(a, b)\n") == [next_edit_floor.Replacement("a", "a, b")]
    before, after = "f(a)\ng(a)\nf(a)\n", "f(a, b)\ng(a)\nf(a)\n"
    diff = next_edit_cases.unified_diff("m.py", before, after)
    headerless = {"path": "m.py", "diff": diff[diff.index("@@"):]}
    edits = next_edit_floor.predict(after, {"line": 0, "character": 7}, [headerless], "m.py")
    assert apply_edits(after, edits) == "f(a, b)\ng(a, b)\nf(a)\n"  # the rule copies, it does not understand
    assert next_edit_floor.predict(after, {"line": 0, "character": 7}, [{"path": "m.py", "diff": "junk"}],
                                   "m.py") == []


def test_requests_send_the_most_recent_history_within_the_endpoint_limit(change):
    _, second, quiet = next_edit_cases.cases_of(change)
    body = next_edit.request_body(quiet, "m", history=2, max_tokens=64)
    assert body["history"] == quiet.history[-2:] and body["max_tokens"] == 64 and "format" not in body
    assert set(body) >= {"model", "path", "language", "text", "cursor", "history"}
    big = Case(**{**vars(second), "history": [{"path": "p", "diff": "+" + "x" * 40_000}] * 3})
    assert len(next_edit.request_body(big, "m", history=8)["history"]) == 1


@pytest.mark.integration
def test_three_cases_against_a_live_server(tmp_path):
    # A busy machine takes minutes per rewrite: room for them, and a bounded rewrite (an answer cut
    # short is the server's "no edit", a well-formed answer all the same).
    server = start_server("--threads", "1", "--request-timeout", "900", name="next-edit")
    try:
        out = subprocess.run([sys.executable, "-m", "codefill.cli", "bench", "next-edit", "--url", server.url,
                              "--limit", "3", "--seed", "3", "--max-tokens", "96", "--json", str(tmp_path / "r.json")],
                             capture_output=True, text=True, timeout=2400)
    finally:
        stop_server(server)
    assert out.returncode == 0, out.stderr
    assert "3/3 cases" in out.stderr and "floor: copy the last edit" in out.stdout
    result = json.loads((tmp_path / "r.json").read_text())
    ours, floor = result["summaries"]
    assert ours["label"] == server.url and floor["label"] == next_edit.FLOOR_LABEL
    assert ours["prompt_tokens"] > 0 and floor["prompt_tokens"] is None  # the server's usage, read
    for s in (ours, floor):
        assert s["cases"] == 3 and s["errors"] == 0 and s["p50_ms"] is not None
    for answer in result["answers"][server.url]:
        assert answer["error"] is None and answer["latency"] > 0
        for e in answer["edits"]:
            assert set(e["range"]) == {"start", "end"} and isinstance(e["text"], str)
