"""TrailingWhitespace: whitespace at the very end of a completion."""

from __future__ import annotations

from ..pipeline import StreamFilter


class TrailingWhitespace(StreamFilter):
    """Whitespace at the very end of a completion is held and dropped."""

    name = "TrailingWhitespace"

    def __init__(self) -> None:
        self.held = ""

    def push(self, text: str) -> str:
        buf = self.held + text
        body = buf.rstrip()
        self.held = buf[len(body) :]
        return body

    def flush(self) -> str:
        self.held = ""
        return ""
