"""LoopStop: a model stuck in a loop writes the same line over and over. A
multi-line completion ends before a line that repeats its previous line, or
that it already wrote twice."""

from __future__ import annotations

from ..cursor import Site
from .line_repeat import LineRepeat, meaningful


class LoopStop(LineRepeat):
    name = "LoopStop"

    @classmethod
    def for_site(cls, site: Site) -> LoopStop | None:
        return cls() if site.mode == "multi_line" else None

    def is_repeat(self, line: str) -> bool:
        return bool(self.lines) and (line == self.lines[-1] or self.lines.count(line) >= 2)

    def could_become_repeat(self, start: str) -> bool:
        return any(ln.startswith(start) for ln in self.lines if meaningful(ln))
