"""The model's rewrite of the editable region as minimal edits (server/nextedit/edits.py)."""

from __future__ import annotations

import pytest

from codefill.server.nextedit.edits import changes, region_edits, to_index, to_utf16


def apply(old: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, text in reversed(edits):
        old = old[:start] + text + old[end:]
    return old


@pytest.mark.parametrize("old, new, expected", [
    ("def foo(a):\n    return a", "def bar(a):\n    return a", [(4, 7, "bar")]),
    ("def foo(a):\n    return a", "def foo(a, b):\n    return a + b", [(9, 9, ", b"), (24, 24, " + b")]),
    ("a\nb\nc", "a\nc", [(2, 4, "")]),
    ("a\nb\nc", "a\nb\nx\nc", [(4, 4, "x\n")]),
    ("x = 1", "x = 1", []),
])
def test_changes_are_the_smallest_that_turn_old_into_new(old, new, expected):
    assert changes(old, new) == expected
    assert apply(old, changes(old, new)) == new


def test_a_rewrite_that_restates_the_region_is_no_edit():
    assert region_edits(["a = 1", "b = 2"], "a = 1\nb = 2\n", 7) == []


def test_positions_are_file_lines_and_utf16_columns():
    [edit] = region_edits(["s = '😀'; x = 1"], "s = '😀'; x = 2\n", 41)
    assert (edit.range.start.line, edit.range.start.character) == (41, 14)
    assert (edit.range.end.line, edit.range.end.character) == (41, 15)
    assert edit.text == "2"


def test_trailing_blank_lines_of_the_rewrite_count_as_the_regions():
    assert region_edits(["a = 1", "", ""], "a = 1\n", 0) == []
    assert region_edits(["a = 1"], "a = 1\n\n\n", 0) == []


def test_crlf_files_keep_their_line_ends():
    [edit] = region_edits(["x = 1\r", "y = 2\r"], "x = 1\r\nz = 3\r\ny = 2\r\n", 0)
    assert (edit.range.start.line, edit.range.start.character, edit.text) == (1, 0, "z = 3\r\n")


def test_utf16_columns_convert_both_ways():
    line = "a😀b"
    assert to_index(line, 3) == 2 and to_utf16(line, 2) == 3
    assert to_index(line, 2) is None  # inside the emoji's surrogate pair
    assert to_index(line, 5) is None and to_index(line, 4) == 3
