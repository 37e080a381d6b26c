"""From the model's rewrite of the editable region to the fewest, smallest edits.

The old region and the rewrite are compared line by line with difflib's
`SequenceMatcher`; each run of lines that differ becomes one edit (one per
line where as many lines were written as changed), narrowed to the
characters that differ (the common start and end of the old and new text
are left out), so renaming one word sends that word. An edit that would
write what is already there is dropped. Trailing blank lines of the rewrite
count as the region's own (models add or drop them at the region's end
where nothing changed), and a file written with CRLF keeps its line ends.

Positions are zero-based lines and UTF-16 code units (LSP's default, what
editors count); `to_index` / `to_utf16` convert within one line.
"""

from __future__ import annotations

from bisect import bisect_right
from difflib import SequenceMatcher
from os.path import commonprefix

from .protocol import Position, Range, TextEdit


def to_utf16(line: str, index: int) -> int:
    """The UTF-16 column of Python index `index` in `line`."""
    return index + sum(1 for ch in line[:index] if ord(ch) > 0xFFFF)


def to_index(line: str, column: int) -> int | None:
    """The Python index of UTF-16 column `column` in `line`; None past the line's end or inside a
    character of two UTF-16 units."""
    units = 0
    for i, ch in enumerate(line):
        if units == column:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > column:
            return None
    return len(line) if units == column else None


def _common_suffix(a: str, b: str) -> int:
    n = 0
    limit = min(len(a), len(b))
    while n < limit and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def changes(old: str, new: str) -> list[tuple[int, int, str]]:
    """The edits that turn `old` into `new`: (start, end) offsets into `old` and the replacement, in
    order, none overlapping, none a no-op."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    starts = [0]
    for line in a:
        starts.append(starts[-1] + len(line))
    out = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if i2 - i1 == j2 - j1:  # as many lines changed as written: an edit in each line that changed
            runs = [(starts[i], a[i], b[j1 + i - i1]) for i in range(i1, i2)]
        else:
            runs = [(starts[i1], "".join(a[i1:i2]), "".join(b[j1:j2]))]
        for at, was, now in runs:
            head = len(commonprefix([was, now]))
            tail = _common_suffix(was[head:], now[head:])
            if was[head:len(was) - tail] != now[head:len(now) - tail]:  # else it restates the text
                out.append((at + head, at + len(was) - tail, now[head:len(now) - tail]))
    return out


def _keep_trailing_blank_lines(old: str, new: str) -> str:
    return new.rstrip("\n") + old[len(old.rstrip("\n")):]


def region_edits(lines: list[str], rewrite: str, first_line: int) -> list[TextEdit]:
    """The edits that turn the region `lines` (its lines without line ends, the first at file line
    `first_line`) into `rewrite` (its lines with line ends, as a format parses it)."""
    crlf = bool(lines) and all(line.endswith("\r") for line in lines)
    plain = [line.removesuffix("\r") for line in lines] if crlf else lines
    old = "\n".join(plain)
    new = rewrite.replace("\r\n", "\n").removesuffix("\n")
    new = _keep_trailing_blank_lines(old, new)
    starts = [0]
    for line in plain:
        starts.append(starts[-1] + len(line) + 1)

    def position(offset: int) -> Position:
        row = min(bisect_right(starts, offset) - 1, len(plain) - 1)
        line = plain[row]
        return Position(line=first_line + row, character=to_utf16(line, offset - starts[row]))

    return [TextEdit(range=Range(start=position(s), end=position(e)), text=t.replace("\n", "\r\n") if crlf else t)
            for s, e, t in changes(old, new)]
