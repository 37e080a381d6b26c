"""BracketBalance: closing brackets the suffix already holds are not repeated;
ones the code needs are kept. With a grammar (tree-sitter) and without one."""

import pytest

from codefill.server.postprocess import build_pipeline, run_to_end
from codefill.server.postprocess.filters import BracketBalance
from codefill.server.postprocess.lexer import syntax_errors
from tests.helpers import both_ways


def balanced(prefix, suffix, text, lang, multi_line=False):
    return both_ways(lambda: BracketBalance(prefix, suffix, lang, multi_line), text)


@pytest.mark.parametrize("lang", ["python", None])
def test_single_line_does_not_repeat_the_editors_closing_bracket(lang):
    assert balanced("print(", ")\n", '"hi")', lang) == '"hi"'
    assert balanced("x = foo(", ")\n", "bar(1), 2)", lang) == "bar(1), 2"


@pytest.mark.parametrize("lang", ["python", None])
def test_single_line_keeps_a_closing_bracket_the_code_needs(lang):
    assert balanced("x = foo(", "\ny = 2\n", "1, 2)", lang) == "1, 2)"


def test_brackets_in_strings_and_comments_do_not_count():
    assert balanced("print(", ")\n", '"a)b")', "python") == '"a)b"'
    assert balanced("f(", ");\n", "x /* ) */, 1);", "javascript") == "x /* ) */, 1"
    assert balanced('print("hel', '")\n', 'lo")', "python") == 'lo"'  # the cursor is inside a string


def test_multi_line_stops_before_a_brace_the_suffix_has():
    prefix = "function f(x) {\n  if (x) {\n    "
    suffix = "\n  }\n  return 1;\n}\n"
    text = "x++;\n    log(x);\n  }\n  return 2;\n}"
    assert balanced(prefix, suffix, text, "javascript", True) == "x++;\n    log(x);\n  "


def test_multi_line_keeps_a_brace_the_suffix_lacks_and_ends_with_its_line():
    # The suffix closes only the function; the completion must close the `if`.
    prefix = "function f(x) {\n  if (x) {\n    "
    suffix = "\n}\n"
    text = "x++;\n  }\n  return x;\n}"
    assert balanced(prefix, suffix, text, "javascript", True) == "x++;\n  }"


def test_without_a_grammar_the_count_decides():
    # The suffix closes only the function: the `while` is the completion's to close.
    prefix = "int f(int x) {\n  while (x) {\n    "
    suffix = "\n}\n"
    text = "x--;\n  }\n  return x;"
    assert balanced(prefix, suffix, text, "c", True) == "x--;\n  }"
    assert balanced(prefix, suffix, text, None, True) == "x--;\n  }"
    assert balanced("print(foo(", ")\n", "x))", None) == "x)"


def test_grammar_tells_what_counting_cannot():
    # A regular expression's bracket is no bracket: only the parser knows.
    prefix = "const r = /\\(/;\nf("
    assert balanced(prefix, ");\n", "x);", "javascript") == "x"
    assert balanced(prefix, ");\n", "x);", None) == "x);"


def test_syntax_errors_counts_error_and_missing_nodes():
    assert syntax_errors("python", "x = (1, 2)\n") == 0
    assert syntax_errors("python", "x = (1, 2))\n") >= 1
    assert syntax_errors("c", "int f() { return 1;\n") >= 1
    assert syntax_errors("cobol", "anything") == 0


def test_parse_window_cuts_at_line_boundaries():
    from codefill.server.postprocess.lexer import PARSE_PREFIX_CHARS, PARSE_SUFFIX_CHARS, parse_window

    prefix = "x = 1\n" * (PARSE_PREFIX_CHARS // 3) + "y = ("
    suffix = ")\n" + "z = 2\n" * (PARSE_SUFFIX_CHARS // 3)
    p, s = parse_window(prefix, suffix)
    assert len(p) <= PARSE_PREFIX_CHARS and p.startswith("x = 1\n") and p.endswith("y = (")
    assert len(s) <= PARSE_SUFFIX_CHARS and s.startswith(")\n") and s.endswith("z = 2\n")
    assert parse_window("a\nb", "c\nd") == ("a\nb", "c\nd")


def test_without_a_grammar_one_line_counts_only_the_rest_of_its_line():
    # The code below the cursor closes a call opened before the window's start (or in a
    # docstring's prose): that says nothing about the line being written.
    prefix = "def f(x):\n    y = compute(x"
    suffix = "\n    return (y,\n        1)\n    )\n"
    pipe = build_pipeline(mode="single_line", stops=[], prefix=prefix, suffix=suffix)
    assert run_to_end(pipe, [", 2)\n"]) == ", 2)"
    # The rest of the cursor's line closes it: not again.
    pipe = build_pipeline(mode="single_line", stops=[], prefix=prefix, suffix=")" + suffix)
    assert run_to_end(pipe, [", 2)\n"]) == ", 2"
