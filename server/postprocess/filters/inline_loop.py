"""InlineLoop: a model stuck in a loop inside one line writes the same piece
again and again, `"HTTPException", "HTTPException", "HTTPException", ...` in
a list, until it runs out of tokens. The completion ends before a piece of
MIN_PIECE or more characters written again right after itself (the piece with
its separator: a copy of the very characters before it), keeping the separator
that ends the first (`"X", `). That also frees the engine: the answer stops
there instead of at `max_tokens`.

A piece counts only with a letter or digit and three different characters
(`0, 0, 0, 0` or `"--------"` are code, not a loop). Text is held back only
while it could still be such a copy: from a character that repeats the one a
piece's length before it, for as long as it goes on repeating."""

from __future__ import annotations

from ..cursor import Site
from ..pipeline import StreamFilter

MIN_PIECE = 8


def _meaningful(piece: str) -> bool:
    return any(ch.isalnum() for ch in piece) and len(set(piece) - {" ", "\t"}) >= 3


def _separator(copy: str) -> str:
    """What of a dropped copy still belongs to the text before it: a copy is found from where the
    repetition begins, which may be the end of the first item (`", "X` after `"X`), so its head of
    punctuation up to a space (`", `) is kept; nothing where that head has a letter or digit."""
    for i, ch in enumerate(copy):
        if ch.isalnum():
            return ""
        if ch.isspace():
            return copy[: i + 1]
    return ""


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
                    done = len(self.held)
                    if done in self.periods and _meaningful(self.held):
                        self.done = True  # the held text is a whole copy of the piece before it
                        out.append(_separator(self.held))
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
