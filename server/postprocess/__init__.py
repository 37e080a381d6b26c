"""Post-processing: which filters a request gets, decided from where its cursor is."""

from __future__ import annotations

from dataclasses import dataclass

from .filters import (
    CodeFence,
    LeadingBlankLines,
    SingleLine,
    StopSequences,
    SuffixOverlap,
    SuffixRepeat,
    TrailingWhitespace,
    model_prefix,
)
from .pipeline import Pipeline, StreamFilter, run_to_end

__all__ = ["Cursor", "Pipeline", "StreamFilter", "build_pipeline", "model_prefix", "resolve_mode", "run_to_end"]


@dataclass(frozen=True)
class Cursor:
    """The text around the cursor, as the post-processing rules see it."""

    line_prefix: str  # the cursor's line, before the cursor
    line_suffix: str  # the cursor's line, after the cursor

    @classmethod
    def at(cls, prefix: str, suffix: str) -> Cursor:
        return cls(prefix.rsplit("\n", 1)[-1], suffix.split("\n", 1)[0])

    @property
    def mid_line(self) -> bool:
        """Code follows the cursor on its line."""
        return bool(self.line_suffix.strip())


def resolve_mode(mode: str, *, has_suffix: bool, cursor: Cursor) -> str:
    """`auto` -> `single_line` / `multi_line` / `raw` for this request."""
    if mode != "auto":
        return mode
    if not has_suffix:
        return "raw"  # a plain completion request, not an editor's
    return "single_line" if cursor.mid_line else "multi_line"


def build_pipeline(*, mode: str, stops: list[str], prefix: str, suffix: str | None) -> Pipeline:
    """The filters for one completion, in order. `mode` is already resolved."""
    filters: list[StreamFilter] = [StopSequences(stops)] if stops else []
    if mode == "raw":
        return Pipeline(filters)
    suffix = suffix or ""
    cursor = Cursor.at(prefix, suffix)
    # The model is shown `model_prefix(prefix)`: indentation of an empty cursor line left out.
    filters += [CodeFence(), LeadingBlankLines(cursor.line_prefix, indent_in_prompt=model_prefix(prefix) == prefix)]
    if mode == "single_line":
        filters.append(SingleLine(allow_next_line=not cursor.mid_line))
    filters.append(SuffixRepeat(suffix))
    if mode == "single_line" and cursor.mid_line:
        filters.append(SuffixOverlap(cursor.line_suffix))
    filters.append(TrailingWhitespace())
    return Pipeline(filters)
