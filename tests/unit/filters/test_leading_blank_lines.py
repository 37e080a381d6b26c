"""LeadingBlankLines: blank lines and the editor's own indentation before the code.

Each case is fed whole and one character at a time (helpers.both_ways): streaming must give the same
answer."""

from codefill.server.postprocess.filters import LeadingBlankLines
from tests.helpers import both_ways


def test_blank_lines_before_code_dropped_on_empty_line():
    assert both_ways(lambda: [LeadingBlankLines("")], "\n\n\nreturn 1") == "return 1"


def test_editor_indentation_is_not_repeated():
    assert both_ways(lambda: [LeadingBlankLines("    ")], "\n\n    return 1") == "return 1"
    # The model left the indentation out of the prompt and writes it again.
    assert both_ways(lambda: [LeadingBlankLines("    ", indent_in_prompt=False)], "    return 1") == "return 1"
    assert both_ways(lambda: [LeadingBlankLines("    ", indent_in_prompt=False)], "        x") == "    x"
    # ... or writes less than the editor has: the cursor's line keeps its own.
    assert both_ways(lambda: [LeadingBlankLines("    ", indent_in_prompt=False)], "  return -1;") == "return -1;"


def test_after_code_several_newlines_become_one():
    assert both_ways(lambda: [LeadingBlankLines("def f():")], "\n\n\n    return 1") == "\n    return 1"


def test_whitespace_only_completion_is_empty():
    assert both_ways(lambda: [LeadingBlankLines("")], "\n \n\t\n") == ""
