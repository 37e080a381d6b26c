"""SingleLine: one line, or the next one when the cursor ends its line.

Each case is fed whole and one character at a time (helpers.both_ways): streaming must give the same
answer."""

from codefill.server.postprocess.filters import SingleLine
from tests.helpers import both_ways


def test_single_line_stops_at_end_of_line():
    assert both_ways(lambda: [SingleLine(allow_next_line=False)], "x + 1)\nprint(x)") == "x + 1)"


def test_single_line_at_end_of_line_may_answer_the_next_line():
    assert both_ways(lambda: [SingleLine(allow_next_line=True)], "\n    return 1\n    x") == "\n    return 1"


def test_single_line_mid_line_never_breaks_the_line():
    assert both_ways(lambda: [SingleLine(allow_next_line=False)], "\n    return 1") == ""
