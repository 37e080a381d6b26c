"""Each post-processing filter on its own, then the pipelines the server builds.

Streaming must give the same answer as one piece: every case is checked fed
whole and fed one character at a time."""

import pytest

from codefill.server.postprocess import Cursor, build_pipeline, plan, resolve_mode, run_to_end
from codefill.server.postprocess.filters import (
    BlockEnd,
    CodeFence,
    LeadingBlankLines,
    SingleLine,
    StopSequences,
    SuffixOverlap,
    SuffixRepeat,
    TrailingWhitespace,
)
from codefill.server.postprocess.pipeline import Pipeline
from codefill.server.prompt.fitting import model_prefix


def both_ways(make_filters, text):
    """Run `text` through fresh filters whole and char by char; both must agree."""
    whole = run_to_end(Pipeline(make_filters()), [text])
    chars = run_to_end(Pipeline(make_filters()), list(text))
    assert whole == chars, (whole, chars)
    return whole


# --- StopSequences -----------------------------------------------------------

def test_stop_sequence_cuts_before_it():
    assert both_ways(lambda: [StopSequences(["\n\n", "END"])], "a = 1\nb = 2\n\nc = 3") == "a = 1\nb = 2"
    assert both_ways(lambda: [StopSequences(["END"])], "xxENyyEND zz") == "xxENyy"


def test_stop_sequence_split_across_tokens_is_held_back():
    p = Pipeline([StopSequences(["STOP"])])
    assert p.push("abc ST") == "abc "
    assert p.push("O") == ""
    assert p.push("P and more") == ""
    assert p.done


def test_partial_stop_is_released_when_it_does_not_complete():
    p = Pipeline([StopSequences(["STOP"])])
    assert p.push("ST") == ""
    assert p.push("ART") == "START"


def test_after_code_a_stop_in_the_leading_blank_lines_does_not_count():
    make = lambda: [StopSequences(["\n"], after_code=True)]  # noqa: E731
    assert both_ways(make, "\n\n    return x\n    y = 1") == "\n\n    return x"
    assert both_ways(make, "return x\ny") == "return x"
    assert both_ways(lambda: [StopSequences(["\n"])], "\n\n    return x") == ""


def test_on_an_empty_line_a_client_stop_at_the_newline_still_gives_the_lines_code():
    from codefill.server.postprocess import build_pipeline

    prefix, suffix = "def f(x):\n    y = x * 2\n    ", "\n"
    for pieces in (["\n", "\n    ", "return", " y", "\n", "z"], list("\n\n    return y\nz")):
        p = build_pipeline(mode="single_line", stops=["\n"], prefix=prefix, suffix=suffix, language="python")
        assert run_to_end(p, pieces) == "return y"
    # After code on the cursor's line the client's stop keeps its OpenAI meaning: an empty answer.
    p = build_pipeline(mode="single_line", stops=["\n"], prefix="x = 1", suffix="\n", language="python")
    assert run_to_end(p, ["\n", "y = 2"]) == ""


# --- CodeFence ---------------------------------------------------------------

def test_code_fence_is_removed_and_closing_fence_ends():
    assert both_ways(lambda: [CodeFence()], "```python\nreturn a + b\n```\nSome prose") == "return a + b"
    assert both_ways(lambda: [CodeFence()], "\n```\nx = 1\n```") == "x = 1"


def test_text_without_fence_passes_unchanged():
    assert both_ways(lambda: [CodeFence()], "x = `cmd`\ny = 2") == "x = `cmd`\ny = 2"
    assert both_ways(lambda: [CodeFence()], "``") == "``"


def test_fence_alone_is_nothing():
    assert both_ways(lambda: [CodeFence()], "```") == ""


# --- LeadingBlankLines -------------------------------------------------------

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


# --- SingleLine --------------------------------------------------------------

def test_single_line_stops_at_end_of_line():
    assert both_ways(lambda: [SingleLine(allow_next_line=False)], "x + 1)\nprint(x)") == "x + 1)"


def test_single_line_at_end_of_line_may_answer_the_next_line():
    assert both_ways(lambda: [SingleLine(allow_next_line=True)], "\n    return 1\n    x") == "\n    return 1"


def test_single_line_mid_line_never_breaks_the_line():
    assert both_ways(lambda: [SingleLine(allow_next_line=False)], "\n    return 1") == ""


# --- BlockEnd ----------------------------------------------------------------

def test_block_ends_where_the_code_dedents():
    text = "x = f.read()\n        return x\n\ndef main():\n    pass"
    assert both_ways(lambda: [BlockEnd("        ")], text) == "x = f.read()\n        return x\n\n"


def test_nested_blocks_inside_the_body_are_kept():
    text = "for x in xs:\n        if x:\n            yield x\n    done = True\nprint(1)\n"
    assert both_ways(lambda: [BlockEnd("    ")], text) == \
        "for x in xs:\n        if x:\n            yield x\n    done = True\n"


def test_brace_block_stops_before_the_closing_brace():
    text = "int y = x * 2;\n  return y;\n}\n\nint main() {"
    assert both_ways(lambda: [BlockEnd("  ")], text) == "int y = x * 2;\n  return y;\n"


# --- SuffixRepeat ------------------------------------------------------------

def test_stops_before_repeating_the_next_line():
    suffix = "\n    return total\n"
    text = "total = a + b\n    return total\n\nprint(1)"
    assert both_ways(lambda: [SuffixRepeat(suffix)], text) == "total = a + b\n"


def test_similar_but_different_line_is_kept():
    suffix = "\n    return total\n"
    assert both_ways(lambda: [SuffixRepeat(suffix)], "x\n    return total + 1") == "x\n    return total + 1"


# --- SuffixOverlap -----------------------------------------------------------

@pytest.mark.parametrize("completion,rest,expected", [
    ("x)", ")", "x"),            # foo(|) must not answer x))
    ("x))", "))", "x"),
    ("x)):", "):", "x)"),
    ("a, b", ")", "a, b"),       # no overlap: unchanged
    ("x) ", ")", "x"),
])
def test_suffix_overlap(completion, rest, expected):
    assert both_ways(lambda: [SuffixOverlap(rest)], completion) == expected


# --- TrailingWhitespace ------------------------------------------------------

def test_trailing_whitespace_dropped_inner_kept():
    assert both_ways(lambda: [TrailingWhitespace()], "a = 1  \n  b = 2 \n\n") == "a = 1  \n  b = 2"


# --- the pipelines the server builds ------------------------------------------

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


def test_suffix_repeat_judges_the_whole_line_not_its_streamed_end():
    # Streamed in pieces, ` count: 0 }` is held as the end of a longer line, not a line of its own.
    suffix = "\n    count: 0 }\n"
    pieces = ["Counter", " {", " count", ":", " 0", " }", "\n"]
    assert run_to_end(Pipeline([SuffixRepeat(suffix)]), pieces) == "Counter { count: 0 }\n"


def test_suffix_repeat_leaves_bracket_lines_to_bracket_balance():
    assert both_ways(lambda: [SuffixRepeat("\n}\n")], "if (x) {\n  y();\n}\nz();") == "if (x) {\n  y();\n}\nz();"


def test_a_disabled_filter_is_left_out_and_all_leaves_the_stops_only():
    from codefill.server.postprocess import FILTERS, build_pipeline, disabled_filters, run_to_end

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
