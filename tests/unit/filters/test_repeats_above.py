"""RepeatsAbove: a line that copies one above the cursor ends the completion.

Each case is fed whole and one character at a time (helpers.both_ways): streaming must give the same
answer."""

from codefill.server.postprocess import build_pipeline, run_to_end
from codefill.server.postprocess.filters import RepeatsAbove
from codefill.server.postprocess.pipeline import Pipeline
from tests.helpers import both_ways


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


def test_streaming_holds_only_a_possible_repeat():
    p = Pipeline([RepeatsAbove(PREFIX)])
    assert p.push("data = re") == ""  # could still become the line above
    assert p.push("turn") == "data = return"  # cannot any more


def test_a_begun_line_may_repeat_a_line_above():
    prefix = "self.assertEqual(a, 1)\nself.assertEqual(b, 2)\nself.assertEqual("
    # The user is writing a line like the ones above: completing it to a copy is theirs to accept.
    pipe = build_pipeline(mode="single_line", stops=[], prefix=prefix, suffix="\n")
    assert run_to_end(pipe, ["b, 2)\n"]) == "b, 2)"
    # On an empty line, a copy of the line above is the model echoing: dropped.
    pipe = build_pipeline(mode="single_line", stops=[], prefix="self.assertEqual(b, 2)\n", suffix="\n")
    assert run_to_end(pipe, ["self.assertEqual(b, 2)\n"]) == ""
