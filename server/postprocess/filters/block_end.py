"""BlockEnd: a multi-line completion is a block's body, and ends with it."""

from __future__ import annotations

from ..cursor import Site
from ..pipeline import StreamFilter


class BlockEnd(StreamFilter):
    """A block's body ends where the code dedents: a multi-line completion
    ends before its first line indented less than its first line (the
    enclosing block's closing brace or next statement usually follows the
    cursor already)."""

    name = "BlockEnd"

    def __init__(self, cursor_line_prefix: str) -> None:
        # The first line continues the cursor's line: count the indentation the editor already has.
        self.first_line_indent = len(cursor_line_prefix) if not cursor_line_prefix.strip() else 0
        self.body_indent: int | None = None
        self.leading = ""  # whitespace at the start of the current line, until its first code
        self.in_code = False  # the current line's code has started

    @classmethod
    def for_site(cls, site: Site) -> BlockEnd | None:
        return None if site.mode == "single_line" else cls(site.cursor.line_prefix)

    def push(self, text: str) -> str:
        out = []
        for ch in text:
            if self.in_code:
                out.append(ch)
                if ch == "\n":
                    self.in_code = False
                    self.first_line_indent = 0
                continue
            if ch in " \t":
                self.leading += ch
                continue
            if ch == "\n":  # a blank line
                out.append(self.leading + ch)
                self.leading = ""
                continue
            indent = len(self.leading) + self.first_line_indent
            if self.body_indent is None:
                self.body_indent = indent
            elif indent < self.body_indent:
                self.done = True
                return "".join(out)
            out.append(self.leading + ch)
            self.leading = ""
            self.in_code = True
        return "".join(out)
