"""What RepeatsAbove and LoopStop share: a line that repeats one seen before
ends the completion before it.

Lines too short to mean anything (`}`, `pass`, `else:`) never count. A line
is held back only while it could still become a repeat.
"""

from __future__ import annotations

from ..pipeline import StreamFilter


def meaningful(line: str) -> bool:
    """Long enough that writing it twice is a mistake, not a coincidence."""
    s = line.strip()
    return len(s) >= 6 and any(ch.isalnum() for ch in s)


class LineRepeat(StreamFilter):
    """End before the first completed line that `is_repeat`; hold a line
    while it might still become one."""

    def __init__(self, cursor_line_prefix: str = "") -> None:
        self.line = ""  # the completion's current line so far
        self.held = 0  # how many of its last characters are held back
        self.first_line_prefix = cursor_line_prefix  # the first line continues the cursor's line
        self.lines: list[str] = []  # completed lines, stripped

    def is_repeat(self, line: str) -> bool:
        raise NotImplementedError

    def could_become_repeat(self, start: str) -> bool:
        raise NotImplementedError

    def _full(self, line: str) -> str:
        return (self.first_line_prefix + line).strip() if not self.lines else line.strip()

    def push(self, text: str) -> str:
        out = []
        for ch in text:
            if ch != "\n":
                self.line += ch
                self.held += 1
                continue
            full = self._full(self.line)
            # A line partly passed on could not become a repeat when it was: the check is moot.
            if self.held == len(self.line) and meaningful(full) and self.is_repeat(full):
                self.done = True
                self.line, self.held = "", 0
                return "".join(out)
            out.append(self.line[len(self.line) - self.held:] + "\n")
            self.lines.append(full)
            self.line, self.held = "", 0
        if self.held and not (self.held == len(self.line) and self.could_become_repeat(self._full(self.line))):
            out.append(self.line[len(self.line) - self.held:])
            self.held = 0
        return "".join(out)

    def flush(self) -> str:
        tail = self.line[len(self.line) - self.held:] if self.held else ""
        full = self._full(self.line)
        if self.held == len(self.line) and meaningful(full) and self.is_repeat(full):
            tail = ""
        self.line, self.held = "", 0
        return tail
