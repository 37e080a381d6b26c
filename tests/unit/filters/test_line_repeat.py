"""What RepeatsAbove and LoopStop share (filters/line_repeat.py): which lines are long enough to count.

Each case is fed whole and one character at a time (helpers.both_ways): streaming must give the same
answer."""

from codefill.server.postprocess.filters import RepeatsAbove
from codefill.server.postprocess.filters.line_repeat import meaningful
from tests.helpers import both_ways


def test_short_lines_never_count():
    assert not meaningful("}") and not meaningful("pass") and not meaningful("------")
    prefix = "if x:\n    pass\nelse:\n    "
    assert both_ways(lambda: RepeatsAbove(prefix), "pass") == "pass"
