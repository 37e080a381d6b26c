"""The post-processing pipelines the server builds: the mode for a cursor, and the filters together.

Each pipeline case is fed whole and one character at a time (helpers.both_ways): streaming must give
the same answer."""

import pytest

from codefill.server.postprocess import FILTERS, Cursor, build_pipeline, disabled_filters, plan, resolve_mode, run_to_end
from codefill.server.prompt.fitting import model_prefix
from tests.helpers import both_ways


def run(text, *, prefix, suffix, mode="auto", stops=()):
    return both_ways(lambda: plan(prefix, suffix, mode=mode, stops=stops).pipeline.filters, text)


def test_mid_line_cursor_gets_one_line_without_the_closing_bracket():
    assert run("x))\nprint(1)", prefix="print(foo(", suffix=")\n") == "x)"


def test_cursor_at_end_of_line_gets_next_line_in_single_line_mode():
    assert run("\n\n    return a + b\n\nmore", prefix="def add(a, b):", suffix="\n") == "\n    return a + b"


def test_empty_indented_line_multi_line_until_suffix_repeats():
    prefix = "def add(a, b):\n    "
    suffix = "\n    return total\n"
    text = "    total = a + b\n    return total\n"
    # The model sees the prefix without the trailing indent, and writes it itself.
    assert model_prefix(prefix) == "def add(a, b):\n"
    assert run(text, prefix=prefix, suffix=suffix) == "total = a + b"


def test_multi_line_body_ends_with_its_block():
    prefix = "def read_lines(path):\n    with open(path) as f:\n        "
    text = "        data = f.read()\n        return data.splitlines()\n\ndef main():\n    pass\n"
    assert run(text, prefix=prefix, suffix="\n") == "data = f.read()\n        return data.splitlines()"


def test_chat_model_fence_and_blank_lines():
    assert run("\n```python\nreturn 1\n```\n", prefix="def one():\n    ", suffix="\n") == "    return 1".strip()


@pytest.mark.parametrize("prefix,suffix,mode", [
    ("def f(x):\n    ", "\n", "multi_line"),        # a body is due
    ("if (ok) {\n  ", "\n}\n", "multi_line"),
    ("x = compute(", ")\n", "single_line"),          # mid-line
    ("    return ", "\n", "single_line"),            # the line has begun
    ("x = 1\n", "\ny = 2\n", "single_line"),         # an empty line, but no block opened
    ("def f(x):\n    ", "\n    return x\n", "single_line"),  # the body is there already
    ("if (ok) {\n  ", "\n  go();\n}\n", "single_line"),
])
def test_auto_mode(prefix, suffix, mode):
    assert resolve_mode("auto", has_suffix=True, cursor=Cursor.at(prefix, suffix)) == mode


@pytest.mark.parametrize("prefix,suffix,language,mode", [
    ("def f(x):  # TODO\n    ", "\n", "python", "multi_line"),    # a trailing comment after the opener
    ("if (ok) { // go\n  ", "\n}\n", "javascript", "multi_line"),
    ("if (ok) { /* go */\n  ", "\n}\n", "c", "multi_line"),
    ("x = f('a:')  # b\n", "\n", "python", "single_line"),      # a colon in a string opens nothing
    ("def f(x):  # TODO\n    ", "\n", None, "single_line"),      # without a language a comment is text
])
def test_auto_mode_with_a_language(prefix, suffix, language, mode):
    assert resolve_mode("auto", has_suffix=True, cursor=Cursor.at(prefix, suffix, language)) == mode


def test_without_suffix_it_is_a_plain_completion():
    assert resolve_mode("auto", has_suffix=False, cursor=Cursor.at("x", "")) == "raw"
    assert run("  abc\n\n", prefix="x", suffix=None) == "  abc\n\n"


def test_raw_mode_applies_only_stop_sequences():
    assert run("```\nabc###def", prefix="x", suffix="y", mode="raw", stops=["###"]) == "```\nabc"


def test_model_prefix_keeps_lines_with_code():
    assert model_prefix("x = 1\n    y") == "x = 1\n    y"
    assert model_prefix("x = 1\n") == "x = 1\n"


def test_multi_line_stops_a_loop():
    prefix = "def total(xs):\n    "
    text = "s = s + 1\n    s = s + 1\n    s = s + 1"
    assert run(text, prefix=prefix, suffix="\n") == "s = s + 1"


def test_a_disabled_filter_is_left_out_and_all_leaves_the_stops_only():
    prefix, suffix = "def f(x):\n    return (x", ")\n"
    names = lambda p: [type(f).__name__ for f in p.filters]  # noqa: E731
    full = build_pipeline(mode="single_line", stops=["#"], prefix=prefix, suffix=suffix, language="python")
    assert "BracketBalance" in names(full) and "SuffixOverlap" in names(full)
    off = build_pipeline(mode="single_line", stops=["#"], prefix=prefix, suffix=suffix, language="python",
                         disabled=disabled_filters(["BracketBalance"]))
    assert "BracketBalance" not in names(off) and "SuffixOverlap" in names(off)
    bare = build_pipeline(mode="single_line", stops=["#"], prefix=prefix, suffix=suffix, language="python",
                          disabled=disabled_filters(["all"]))
    assert names(bare) == ["StopSequences"]
    # With every filter off the text is the model's, up to the request's own stop.
    assert run_to_end(bare, [" + 1)", "\n  ", "more # x"]) == " + 1)\n  more "
    assert run_to_end(full, [" + 1)", "\n  ", "more # x"]) == " + 1"
    assert set(FILTERS) >= {"IndentStyle", "BracketBalance", "SyntaxCheck", "RepeatsAbove", "LoopStop"}
