"""SingleLine: in `single_line` mode, one line only."""

from __future__ import annotations

from ..cursor import Site
from ..pipeline import StreamFilter


class SingleLine(StreamFilter):
    """Answer one line: the rest of the cursor's line, or, when the cursor is
    at the end of a line and the completion starts with a newline, the next line."""

    name = "SingleLine"

    def __init__(self, allow_next_line: bool) -> None:
        self.allow_next_line = allow_next_line
        self.content = False
        self.newline_used = False

    @classmethod
    def for_site(cls, site: Site) -> SingleLine | None:
        return cls(allow_next_line=not site.cursor.mid_line) if site.mode == "single_line" else None

    def push(self, text: str) -> str:
        for i, ch in enumerate(text):
            if ch == "\n":
                if self.content or self.newline_used or not self.allow_next_line:
                    self.done = True
                    return text[:i]
                self.newline_used = True
            elif not ch.isspace():
                self.content = True
        return text
