"""SuffixOverlap: the end of a one-line completion that the cursor's line already holds."""

from __future__ import annotations

from ..cursor import Site
from ..pipeline import StreamFilter
from .bracket_balance import BracketBalance


class SuffixOverlap(StreamFilter):
    """On the cursor's line, drop the end of the completion that the text after
    the cursor already holds: `foo(|)` completed with `x)` gives `x`."""

    name = "SuffixOverlap"

    def __init__(self, suffix_line: str, brackets_decided: bool = False) -> None:
        self.rest = suffix_line.strip()
        self.held = ""
        # BracketBalance ran before: an overlap of closing brackets alone is one it chose to keep.
        self.brackets_decided = brackets_decided

    @classmethod
    def for_site(cls, site: Site) -> SuffixOverlap | None:
        if site.mode != "single_line" or not site.cursor.mid_line:
            return None
        return cls(site.cursor.line_suffix, brackets_decided=BracketBalance.name not in site.disabled)

    def push(self, text: str) -> str:
        if not self.rest:
            return text
        buf = self.held + text
        keep = min(len(buf), len(self.rest) + len(buf) - len(buf.rstrip()))
        self.held = buf[len(buf) - keep :]
        return buf[: len(buf) - keep]

    def flush(self) -> str:
        tail, self.held = self.held, ""
        if not self.rest or "\n" in tail:
            return tail
        body = tail.rstrip()
        for k in range(min(len(body), len(self.rest)), 0, -1):
            if body.endswith(self.rest[:k]):
                if self.brackets_decided and all(ch in ")]}" for ch in self.rest[:k]):
                    return tail
                return body[: len(body) - k].rstrip()
        return tail
