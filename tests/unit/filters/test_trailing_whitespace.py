"""TrailingWhitespace: the completion's trailing blanks go, inner ones stay.

Each case is fed whole and one character at a time (helpers.both_ways): streaming must give the same
answer."""

from codefill.server.postprocess.filters import TrailingWhitespace
from tests.helpers import both_ways


def test_trailing_whitespace_dropped_inner_kept():
    assert both_ways(lambda: [TrailingWhitespace()], "a = 1  \n  b = 2 \n\n") == "a = 1  \n  b = 2"
