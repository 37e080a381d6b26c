"""The edit history's diffs: parsed, checked against the text, reverted (server/nextedit/history.py)."""

from __future__ import annotations

import pytest

from codefill.server.errors import APIError
from codefill.server.nextedit.history import check_applies, parse_event, reverted
from codefill.server.nextedit.protocol import HistoryEvent

DIFF = "@@ -1,2 +1,2 @@\n def f(a):\n-    return a\n+    return a + 1\n"
TEXT = ["def f(a):", "    return a + 1", "", "print(f(1))"]


def event(diff: str, path: str = "x.py") -> HistoryEvent:
    return HistoryEvent(path=path, diff=diff)


def test_a_diff_without_headers_is_the_events_file():
    edit = parse_event(event(DIFF), 0)
    [hunk] = edit.hunks
    assert (hunk.old, hunk.new) == (("def f(a):", "    return a"), ("def f(a):", "    return a + 1"))
    assert (hunk.removed, hunk.added) == (("    return a",), ("    return a + 1",))
    assert edit.body == DIFF


def test_a_diff_with_headers_parses_the_same():
    assert parse_event(event("--- a/x.py\n+++ b/x.py\n" + DIFF), 0).hunks == parse_event(event(DIFF), 0).hunks


@pytest.mark.parametrize("diff, words", [
    ("just some text\n", "no hunks"),
    ("@@ -1,3 +1,2 @@\n a\n-b\n+c\n", "not a unified diff"),
    ("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-a\n+b\n", "one file"),
])
def test_a_bad_diff_is_a_400_naming_the_event(diff, words):
    with pytest.raises(APIError) as caught:
        parse_event(event(diff), 3)
    assert caught.value.status == 400 and caught.value.param == "history[3].diff"
    assert words in caught.value.message


def test_the_newest_diff_must_describe_the_text():
    edit = parse_event(event(DIFF), 0)
    check_applies(edit, 0, TEXT, 0)
    with pytest.raises(APIError) as caught:
        check_applies(edit, 2, ["def f(a):", "    return 2"], 0)
    assert caught.value.code == "diff_does_not_apply" and caught.value.param == "history[2].diff"


def test_a_window_checks_only_the_lines_it_holds():
    edit = parse_event(event("@@ -10,2 +10,2 @@\n x = 1\n-y = 2\n+y = 3\n"), 0)
    check_applies(edit, 0, ["y = 3", "z = 4"], 10)  # file line 11 is the window's first
    check_applies(edit, 0, ["a", "b"], 0)  # the hunk lies past this window
    with pytest.raises(APIError):
        check_applies(edit, 0, ["y = 2"], 10)


def test_reverting_the_newest_edit_gives_the_text_before_it():
    assert reverted(parse_event(event(DIFF), 0), TEXT, 0) == ["def f(a):", "    return a", "", "print(f(1))"]
