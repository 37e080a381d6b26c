"""Small facts about code text that several filters (and the cursor) share."""

from __future__ import annotations

# A line ending in one of these opens a block: a body is due after it, and its next line's step is one level.
BLOCK_OPENERS = (":", "{", "(", "[", "=>", "->", " do", " then")


def indent_width(line: str) -> int:
    """Columns of the line's leading whitespace (a tab counts 4)."""
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def longest_tail_that_starts(text: str, candidates: list[str]) -> int:
    """Length of the longest end of `text` that is a proper start of a candidate:
    what a filter holds back while it could still become one."""
    best = 0
    for c in candidates:
        for k in range(min(len(c) - 1, len(text)), best, -1):
            if text.endswith(c[:k]):
                best = k
                break
    return best
