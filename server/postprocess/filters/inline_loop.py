"""InlineLoop: a model stuck in a loop inside one line writes the same piece
again and again, `"HTTPException", "HTTPException", "HTTPException", ...` in
a list, until it runs out of tokens. The completion ends before the second
copy of a piece of MIN_PIECE or more characters written again right after
itself (a copy of the very characters before it), cut before an item, after a
space: `"X", ` is kept once. That also frees the engine: the answer stops
there instead of at `max_tokens`.

A piece counts only with a letter or digit and three different characters
(`0, 0, 0, 0` or `"--------"` are code, not a loop), and only where a space
comes before a copy of it (`{a.help}#{a.help_sep}` repeats `}#{a.help`, but
no word starts a copy there; a loop with no space in it is left alone). Text
is held back only while it could still be such a copy: from a character that
repeats the one a piece's length before it, for as long as it goes on
repeating."""

from __future__ import annotations

from ..cursor import Site
from ..pipeline import StreamFilter

MIN_PIECE = 8


def _meaningful(piece: str) -> bool:
    return any(ch.isalnum() for ch in piece) and len(set(piece) - {" ", "\t"}) >= 3


def _cut(line: str, held: int, periods: set[int]) -> int | None:
    """Where the loop in `line` is cut, if there is one: `line`'s last `held` characters repeat, with each
    period in `periods`, the ones before them. The cut goes before an item, after a space (`"X", |"X", `):
    the text from there holds a whole meaningful copy of the piece before it. None: no such place yet."""
    start = len(line) - held
    for k in sorted(periods):
        for c in range(start, len(line) - k + 1):
            if c > 0 and line[c - 1].isspace() and not line[c].isspace() and _meaningful(line[c:c + k]):
                return c
    return None


class InlineLoop(StreamFilter):
    name = "InlineLoop"

    def __init__(self, line_prefix: str = "") -> None:
        self.line = line_prefix  # the current line: the cursor's line up to it, then the completion's
        self.held = ""  # the end of the line not passed on yet: it may be a copy in the making
        self.periods: set[int] = set()  # the piece lengths of which `held` is still a copy

    @classmethod
    def for_site(cls, site: Site) -> InlineLoop:
        return cls(site.prefix[site.prefix.rfind("\n") + 1:])

    def push(self, text: str) -> str:
        out: list[str] = []
        for ch in text:
            if ch == "\n":
                out.append(self.held + ch)
                self.line, self.held, self.periods = "", "", set()
                continue
            at = len(self.line)
            self.line += ch
            if self.held:
                self.periods = {k for k in self.periods if self.line[at - k] == ch}
                if self.periods:
                    self.held += ch
                    cut = _cut(self.line, len(self.held), self.periods)
                    if cut is not None:  # a whole copy of the piece before it follows the cut
                        self.done = True
                        out.append(self.held[: cut - (len(self.line) - len(self.held))])
                        self.held, self.periods = "", set()
                        return "".join(out)
                    continue
                out.append(self.held)
                self.held = ""
            self.periods = {k for k in range(MIN_PIECE, at + 1) if self.line[at - k] == ch}
            if self.periods:
                self.held = ch
            else:
                out.append(ch)
        return "".join(out)

    def flush(self) -> str:
        tail, self.held, self.periods = self.held, "", set()
        return tail
