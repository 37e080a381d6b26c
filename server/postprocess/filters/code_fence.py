"""CodeFence: chat-tuned models wrap code in Markdown fences."""

from __future__ import annotations

from ..pipeline import StreamFilter
from ..text import longest_tail_that_starts


class CodeFence(StreamFilter):
    """Drop an opening ```` ```lang ```` line and end at the closing fence."""

    name = "CodeFence"
    FENCE = "```"

    def __init__(self) -> None:
        self.state = "start"  # start -> body
        self.held = ""

    def push(self, text: str) -> str:
        buf = self.held + text
        self.held = ""
        if self.state == "start":
            head = buf.lstrip()
            if not head or (len(head) < len(self.FENCE) and self.FENCE.startswith(head)):
                self.held = buf  # cannot tell yet
                return ""
            if head.startswith(self.FENCE):
                newline = head.find("\n")
                if newline < 0:
                    self.held = buf  # the fence's info string is still coming
                    return ""
                buf = head[newline + 1 :]
                self.state = "body"
                return self._body(buf, at_line_start=True)
            self.state = "body"
        return self._body(buf, at_line_start=False)

    def _body(self, buf: str, at_line_start: bool) -> str:
        if at_line_start and buf.startswith(self.FENCE):
            self.done = True
            return ""
        end = buf.find("\n" + self.FENCE)
        if end >= 0:
            self.done = True
            return buf[:end]
        keep = longest_tail_that_starts(buf, ["\n" + self.FENCE])
        if at_line_start and len(buf) < len(self.FENCE) and self.FENCE.startswith(buf):
            keep = len(buf)
        self.held = buf[len(buf) - keep :] if keep else ""
        return buf[: len(buf) - keep]

    def flush(self) -> str:
        out, self.held = self.held, ""
        if self.state == "start":
            return "" if out.lstrip().startswith(self.FENCE) else out
        return out
