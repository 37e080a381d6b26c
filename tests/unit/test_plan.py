"""`plan`: one request's cursor, mode and pipeline in one call, and the
filters' names and order as the operator sees them."""

import pytest

from codefill.server.postprocess import FILTERS, Cursor, disabled_filters, plan, run_to_end
from codefill.server.postprocess.filters import ORDER

# The names `codefill serve --disable-filter` has always taken (README, ARCHITECTURE), in pipeline order.
DOCUMENTED = ("CodeFence", "IndentStyle", "LeadingBlankLines", "SingleLine", "BlockEnd", "BracketBalance",
              "SyntaxCheck", "SuffixRepeat", "RepeatsAbove", "LoopStop", "InlineLoop", "SuffixOverlap",
              "TrailingWhitespace")


def names(p):
    return [f.name for f in p.pipeline.filters]


def test_the_filters_operators_can_name_are_the_documented_ones_in_order():
    assert FILTERS == DOCUMENTED
    assert len({f.name for f in ORDER}) == len(ORDER)
    assert disabled_filters(["all"]) == frozenset(DOCUMENTED)
    with pytest.raises(ValueError, match="no filter named 'bracketbalance'; the filters are: all, CodeFence"):
        disabled_filters(["bracketbalance"])


def test_plan_reads_the_cursor_once(monkeypatch):
    calls = []
    at = Cursor.at.__func__

    def counted(cls, *args, **kwargs):
        calls.append(args)
        return at(cls, *args, **kwargs)

    monkeypatch.setattr(Cursor, "at", classmethod(counted))
    p = plan("def f(x):  # TODO\n    ", "\n", language="python", stops=["\n\n"])
    assert len(calls) == 1
    assert p.cursor.previous_line.rstrip() == "def f(x):"  # the language's comment rule, in the cursor the mode came from
    assert p.mode == "multi_line"


def test_the_mode_decides_which_filters_apply():
    single = plan("x = compute(", ")\n", language="python")
    assert single.mode == "single_line"
    assert names(single) == ["CodeFence", "LeadingBlankLines", "SingleLine", "BracketBalance", "SuffixRepeat",
                             "InlineLoop", "SuffixOverlap", "TrailingWhitespace"]
    multi = plan("def f(x):\n    y = 1\n    if y:\n        ", "\n", language="python", stops=["\n\n\n"])
    assert multi.mode == "multi_line"
    assert names(multi) == ["StopSequences", "CodeFence", "IndentStyle", "LeadingBlankLines", "BlockEnd",
                            "BracketBalance", "SyntaxCheck", "SuffixRepeat", "RepeatsAbove", "LoopStop",
                            "InlineLoop", "TrailingWhitespace"]
    raw = plan("x = ", None, stops=["\n"])
    assert raw.mode == "raw" and names(raw) == ["StopSequences"]
    assert names(plan("x = ", "\n", mode="raw")) == []


def test_a_disabled_filter_is_not_built_and_the_pipeline_reports_who_stopped():
    p = plan("def f(x):\n    ", "\n", language="python", disabled=disabled_filters(["SyntaxCheck", "LoopStop"]))
    assert "SyntaxCheck" not in names(p) and "LoopStop" not in names(p) and "BlockEnd" in names(p)
    assert run_to_end(p.pipeline, ["    return x\n", "def g():\n"]) == "return x"
    assert p.pipeline.stopped_by == "BlockEnd"
