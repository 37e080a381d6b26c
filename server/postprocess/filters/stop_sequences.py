"""StopSequences: OpenAI's `stop`, the request's own; always applies."""

from __future__ import annotations

from ..pipeline import StreamFilter
from ..text import longest_tail_that_starts


class StopSequences(StreamFilter):
    """OpenAI `stop`: end before the first stop sequence; it is not returned.

    A stop sequence can arrive split over several tokens, so the end of the
    text that could still become one is held back.

    `after_code`: only after the answer's first code character. On an empty
    line an editor's `stop: ["\n"]` would otherwise end a model that starts
    with a blank line before its code in an empty answer; the blank lines
    are LeadingBlankLines' to drop."""

    name = "StopSequences"

    def __init__(self, stops: list[str], after_code: bool = False) -> None:
        self.stops = [s for s in stops if s]
        self.held = ""
        self.waiting_for_code = after_code

    def push(self, text: str) -> str:
        buf = self.held + text
        start = 0
        if self.waiting_for_code:
            start = len(buf) - len(buf.lstrip())
            if start == len(buf):  # whitespace only, so far
                self.held = ""
                return buf
            self.waiting_for_code = False
        cut = min((i for i in (buf.find(s, start) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.done = True
            self.held = ""
            return buf[:cut]
        keep = longest_tail_that_starts(buf, self.stops)
        self.held = buf[len(buf) - keep :] if keep else ""
        return buf[: len(buf) - keep]

    def flush(self) -> str:
        out, self.held = self.held, ""
        return out
