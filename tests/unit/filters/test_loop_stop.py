"""LoopStop: a completion that starts repeating its own lines ends before the repeat.

Each case is fed whole and one character at a time (helpers.both_ways): streaming must give the same
answer."""

from codefill.server.postprocess.filters import LoopStop
from tests.helpers import both_ways


def test_loop_stops_before_a_repeated_line():
    text = "total += x\n    total += x\n    total += x"
    assert both_ways(LoopStop, text) == "total += x\n"


def test_loop_stops_at_a_third_copy_of_a_block():
    text = "a = f(1)\nb = g(2)\na = f(1)\nb = g(2)\na = f(1)\nb = g(2)\n"
    assert both_ways(LoopStop, text) == "a = f(1)\nb = g(2)\na = f(1)\nb = g(2)\n"


def test_loop_keeps_short_repeats_and_different_lines():
    text = "}\n}\nfoo(1)\nfoo(2)\n"
    assert both_ways(LoopStop, text) == text
