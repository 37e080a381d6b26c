"""SuffixRepeat: the completion writing again the line after the cursor."""

from __future__ import annotations

from ..cursor import Site
from ..pipeline import StreamFilter


class SuffixRepeat(StreamFilter):
    """End before a line that repeats the next line of code after the cursor:
    the model would otherwise write again what the file already has."""

    name = "SuffixRepeat"

    def __init__(self, suffix: str) -> None:
        following = next((ln.strip() for ln in suffix.split("\n")[1:] if ln.strip()), "")
        # A line of brackets alone (`}`, `});`) is BracketBalance's to judge:
        # a block the completion opens ends with one too.
        self.targets = [following] if any(ch.isalnum() for ch in following) else []
        self.line = ""  # the held start of the completion's current line
        self.partial = False  # part of the current line was passed on: it is no repeat

    @classmethod
    def for_site(cls, site: Site) -> SuffixRepeat:
        return cls(site.suffix)

    def push(self, text: str) -> str:
        if not self.targets:
            return text
        out = []
        buf = self.line + text
        lines = buf.split("\n")
        for complete in lines[:-1]:
            if not self.partial and complete.strip() in self.targets:
                self.done = True
                self.line = ""
                return "".join(out)
            out.append(complete + "\n")
            self.partial = False
        self.line = lines[-1]
        if not self.partial and any(t.startswith(self.line.strip()) for t in self.targets):
            return "".join(out)  # might still become a repeat: hold the line
        out.append(self.line)
        self.partial = self.partial or bool(self.line)
        self.line = ""
        return "".join(out)

    def flush(self) -> str:
        line, self.line = self.line, ""
        if not self.partial and line.strip() in self.targets:
            return ""
        return line
