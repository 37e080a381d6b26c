"""SuffixRepeat: the completion stops before writing the line after the cursor again.

Each case is fed whole and one character at a time (helpers.both_ways): streaming must give the same
answer."""

from codefill.server.postprocess import run_to_end
from codefill.server.postprocess.filters import SuffixRepeat
from codefill.server.postprocess.pipeline import Pipeline
from tests.helpers import both_ways


def test_stops_before_repeating_the_next_line():
    suffix = "\n    return total\n"
    text = "total = a + b\n    return total\n\nprint(1)"
    assert both_ways(lambda: [SuffixRepeat(suffix)], text) == "total = a + b\n"


def test_similar_but_different_line_is_kept():
    suffix = "\n    return total\n"
    assert both_ways(lambda: [SuffixRepeat(suffix)], "x\n    return total + 1") == "x\n    return total + 1"


def test_suffix_repeat_judges_the_whole_line_not_its_streamed_end():
    # Streamed in pieces, ` count: 0 }` is held as the end of a longer line, not a line of its own.
    suffix = "\n    count: 0 }\n"
    pieces = ["Counter", " {", " count", ":", " 0", " }", "\n"]
    assert run_to_end(Pipeline([SuffixRepeat(suffix)]), pieces) == "Counter { count: 0 }\n"


def test_suffix_repeat_leaves_bracket_lines_to_bracket_balance():
    assert both_ways(lambda: [SuffixRepeat("\n}\n")], "if (x) {\n  y();\n}\nz();") == "if (x) {\n  y();\n}\nz();"
