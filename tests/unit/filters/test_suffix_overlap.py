"""SuffixOverlap: what the rest of the cursor's line already holds is not written twice.

Each case is fed whole and one character at a time (helpers.both_ways): streaming must give the same
answer."""

import pytest

from codefill.server.postprocess.filters import SuffixOverlap
from tests.helpers import both_ways


@pytest.mark.parametrize("completion,rest,expected", [
    ("x)", ")", "x"),            # foo(|) must not answer x))
    ("x))", "))", "x"),
    ("x)):", "):", "x)"),
    ("a, b", ")", "a, b"),       # no overlap: unchanged
    ("x) ", ")", "x"),
])
def test_suffix_overlap(completion, rest, expected):
    assert both_ways(lambda: [SuffixOverlap(rest)], completion) == expected
