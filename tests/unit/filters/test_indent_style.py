"""IndentStyle and file_indent, whole and char by char."""

import pytest

from codefill.server.postprocess.filters.indent_style import IndentStyle, file_indent
from tests.helpers import both_ways


@pytest.mark.parametrize("text, unit", [
    ("def f():\n    x = 1\n    if x:\n        y = 2\n", "    "),
    ("function f() {\n  if (x) {\n    y();\n  }\n}\n", "  "),
    ("func f() {\n\tif x {\n\t\ty()\n\t}\n}\n", "\t"),
    ("x = 1\ny = 2\n", None),
])
def test_file_indent(text, unit):
    assert file_indent(text) == unit


def test_spaces_become_the_files_tabs():
    text = "if x {\n        y()\n    }"
    assert both_ways(lambda: IndentStyle("\t", "\t"), text) == "if x {\n\t\ty()\n\t}"


def test_tabs_become_the_files_spaces():
    assert both_ways(lambda: IndentStyle("  ", "  "), "if (x) {\n\t\ty();\n\t}") == "if (x) {\n    y();\n  }"


def test_four_space_levels_in_a_two_space_file_are_rescaled():
    # Cursor on a blank line indented 2; the model nests with 4.
    text = "if (x) {\n      y();\n  }\n  return 1;"
    assert both_ways(lambda: IndentStyle("  ", "  "), text) == "if (x) {\n    y();\n  }\n  return 1;"


def test_matching_style_is_left_alone():
    text = "if x:\n        y = 2\n    return y"
    assert both_ways(lambda: IndentStyle("    ", "    "), text) == text


def test_first_line_whitespace_adds_to_the_editors():
    # The editor's cursor is at column 0 of a tab file; the model indents with 4 spaces.
    assert both_ways(lambda: IndentStyle("\t", ""), "    x = 1\n    y = 2") == "\tx = 1\n\ty = 2"


def test_first_line_is_absolute_when_the_prompt_left_the_cursor_indent_out():
    # Cursor on a line indented two tabs; the model saw no indentation and wrote 8 spaces.
    text = "        if x:\n            y = 1"
    assert both_ways(lambda: IndentStyle("\t", "\t\t", first_line_absolute=True), text) == "\t\tif x:\n\t\t\ty = 1"
    assert both_ways(lambda: IndentStyle("\t", "\t\t", first_line_absolute=False), "if x:\n            y = 1") \
        == "if x:\n\t\t\ty = 1"


def test_a_first_line_several_levels_deep_is_left_alone():
    # HumanEval/117: the cursor at column 0 of an emptied line two levels deep in a 4-space file; the
    # model writes the line at 8. That is two of the file's levels, not one level of a model using 8.
    assert both_ways(lambda: IndentStyle("    ", "", first_line_absolute=True), "        if n == 0:") \
        == "        if n == 0:"


def test_only_a_step_after_a_block_opener_shows_the_models_level():
    # HumanEval/25: a commented-out line at column 0, then code at 8: no block opens, nothing to rescale.
    text = "#        print(x)\n        fact.append(n)\n    return fact"
    assert both_ways(lambda: IndentStyle("    ", "", first_line_absolute=True), text) == text
    # A commented-out block opener opens nothing (HumanEval/0/B0 and 21 more multi-line answers).
    text = "#        if elem < threshold:\n        return True"
    assert both_ways(lambda: IndentStyle("    ", "", first_line_absolute=True), text) == text
    # After a block opener the step is one level: 8 in a 4-space file is the model's own width.
    assert both_ways(lambda: IndentStyle("    ", "", first_line_absolute=True), "if x:\n        y = 1") \
        == "if x:\n    y = 1"
