"""RepeatsAbove and LoopStop, whole and char by char."""

from codefill.server.postprocess import build_pipeline, run_to_end
from codefill.server.postprocess.pipeline import Pipeline
from codefill.server.postprocess.filters import LoopStop, RepeatsAbove
from codefill.server.postprocess.filters.line_repeat import meaningful


def both_ways(make, text):
    whole = run_to_end(Pipeline([make()]), [text])
    chars = run_to_end(Pipeline([make()]), list(text))
    assert whole == chars, (whole, chars)
    return whole


PREFIX = "import os\n\ndef load(path):\n    data = read(path)\n    "


def test_a_copy_of_the_line_above_is_dropped():
    assert both_ways(lambda: RepeatsAbove(PREFIX), "data = read(path)") == ""
    assert both_ways(lambda: RepeatsAbove(PREFIX), "data = read(path)\n    return data") == ""


def test_the_completion_ends_before_a_later_copy():
    text = "items = parse(data)\n    data = read(path)\n    return items"
    assert both_ways(lambda: RepeatsAbove(PREFIX), text) == "items = parse(data)\n"


def test_a_line_that_only_starts_like_one_above_is_kept():
    assert both_ways(lambda: RepeatsAbove(PREFIX), "data = read(path).strip()") == "data = read(path).strip()"


def test_the_first_line_counts_with_the_cursors_line():
    prefix = "x = compute(1)\nx = comp"
    assert both_ways(lambda: RepeatsAbove(prefix), "ute(1)") == ""
    assert both_ways(lambda: RepeatsAbove(prefix), "ute(2)") == "ute(2)"


def test_short_lines_never_count():
    assert not meaningful("}") and not meaningful("pass") and not meaningful("------")
    prefix = "if x:\n    pass\nelse:\n    "
    assert both_ways(lambda: RepeatsAbove(prefix), "pass") == "pass"


def test_streaming_holds_only_a_possible_repeat():
    p = Pipeline([RepeatsAbove(PREFIX)])
    assert p.push("data = re") == ""  # could still become the line above
    assert p.push("turn") == "data = return"  # cannot any more


def test_loop_stops_before_a_repeated_line():
    text = "total += x\n    total += x\n    total += x"
    assert both_ways(LoopStop, text) == "total += x\n"


def test_loop_stops_at_a_third_copy_of_a_block():
    text = "a = f(1)\nb = g(2)\na = f(1)\nb = g(2)\na = f(1)\nb = g(2)\n"
    assert both_ways(LoopStop, text) == "a = f(1)\nb = g(2)\na = f(1)\nb = g(2)\n"


def test_loop_keeps_short_repeats_and_different_lines():
    text = "}\n}\nfoo(1)\nfoo(2)\n"
    assert both_ways(LoopStop, text) == text


def test_a_begun_line_may_repeat_a_line_above():
    prefix = "self.assertEqual(a, 1)\nself.assertEqual(b, 2)\nself.assertEqual("
    # The user is writing a line like the ones above: completing it to a copy is theirs to accept.
    pipe = build_pipeline(mode="single_line", stops=[], prefix=prefix, suffix="\n")
    assert run_to_end(pipe, ["b, 2)\n"]) == "b, 2)"
    # On an empty line, a copy of the line above is the model echoing: dropped.
    pipe = build_pipeline(mode="single_line", stops=[], prefix="self.assertEqual(b, 2)\n", suffix="\n")
    assert run_to_end(pipe, ["self.assertEqual(b, 2)\n"]) == ""
