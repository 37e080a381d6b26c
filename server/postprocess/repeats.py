"""Repetition: completions that write again what the file or the completion
itself already has.

- RepeatsAbove: small models often answer with a copy of the line just above
  the cursor. A line of the completion that equals one of the last few lines
  of code above the cursor ends the completion before it.
- LoopStop: a model stuck in a loop writes the same line over and over. A
  multi-line completion ends before a line that repeats its previous line,
  or that it already wrote twice.

Lines too short to mean anything (`}`, `pass`, `else:`) never count. Both
filters hold a line back only while it could still become a repeat.
"""

from __future__ import annotations

from .pipeline import StreamFilter

# How many lines of code above the cursor RepeatsAbove compares with.
ABOVE_LINES = 3


def meaningful(line: str) -> bool:
    """Long enough that writing it twice is a mistake, not a coincidence."""
    s = line.strip()
    return len(s) >= 6 and any(ch.isalnum() for ch in s)


class _LineRepeat(StreamFilter):
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


class RepeatsAbove(_LineRepeat):
    def __init__(self, prefix: str) -> None:
        above, _, cursor_line = prefix.rpartition("\n")
        code = [ln.strip() for ln in above.split("\n") if ln.strip()]
        super().__init__(cursor_line)
        self.targets = {ln for ln in code[-ABOVE_LINES:] if meaningful(ln)}

    def is_repeat(self, line: str) -> bool:
        return line in self.targets

    def could_become_repeat(self, start: str) -> bool:
        return any(t.startswith(start) for t in self.targets)


class LoopStop(_LineRepeat):
    def is_repeat(self, line: str) -> bool:
        return bool(self.lines) and (line == self.lines[-1] or self.lines.count(line) >= 2)

    def could_become_repeat(self, start: str) -> bool:
        return any(ln.startswith(start) for ln in self.lines if meaningful(ln))
