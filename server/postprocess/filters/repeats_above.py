"""RepeatsAbove: small models often answer with a copy of the line just above
the cursor. A line of the completion that equals one of the last few lines
of code above the cursor ends the completion before it."""

from __future__ import annotations

from ..cursor import Site
from .line_repeat import LineRepeat, meaningful

# How many lines of code above the cursor RepeatsAbove compares with.
ABOVE_LINES = 3


class RepeatsAbove(LineRepeat):
    name = "RepeatsAbove"

    def __init__(self, prefix: str) -> None:
        above, _, cursor_line = prefix.rpartition("\n")
        code = [ln.strip() for ln in above.split("\n") if ln.strip()]
        super().__init__(cursor_line)
        self.targets = {ln for ln in code[-ABOVE_LINES:] if meaningful(ln)}

    @classmethod
    def for_site(cls, site: Site) -> RepeatsAbove | None:
        # A copy of a line above is the model echoing instead of writing on a fresh line or block;
        # once the user has typed part of the line, repeating a line above is their own choice.
        if site.mode == "multi_line" or not site.cursor.line_prefix.strip():
            return cls(site.nearby_prefix)
        return None

    def is_repeat(self, line: str) -> bool:
        return line in self.targets

    def could_become_repeat(self, start: str) -> bool:
        return any(t.startswith(start) for t in self.targets)
