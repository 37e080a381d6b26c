"""IndentStyle: indentation in the file's own style.

A model may indent with spaces in a file of tabs (or the other way round), or
with four spaces in a file that uses two. IndentStyle rewrites the leading
whitespace of each completion line into the file's unit: tabs become the
file's spaces, spaces become tabs, and where the completion shows the model's
own width of a level (4 where the file has 2, or 2 where it has 4) in the step
from a line that opens a block to the line after it, levels are rescaled
relative to the cursor's indentation. A step seen anywhere else (the first
line against the cursor, a line after a comment) says nothing about a level:
the first line's indentation may be several levels, and is left alone. A line's
leading whitespace is held only until its first code character. It runs
before LeadingBlankLines, which then finds the editor's indentation in the
file's own style and leaves it out.
"""

from __future__ import annotations

from collections import Counter

from ..cursor import Site
from ..pipeline import StreamFilter
from ..text import BLOCK_OPENERS

_WIDTHS = (2, 4, 8)
# A comment opens nothing, whatever it ends with (`#    if x:` is a commented-out line).
_COMMENTS = ("#", "//", "/*", "*", "--")


def file_indent(text: str) -> str | None:
    """The file's indentation unit, "\\t" or some spaces; None if it shows none."""
    tabs = spaces = 0
    deltas: Counter[int] = Counter()
    previous: int | None = None
    for line in text.split("\n"):
        if not line.strip():
            continue
        lead = line[: len(line) - len(line.lstrip(" \t"))]
        if lead.startswith("\t"):
            tabs += 1
        elif lead.startswith(" "):
            spaces += 1
        if "\t" not in lead:
            width = len(lead)
            if previous is not None and width > previous:
                deltas[width - previous] += 1
            previous = width
    if tabs > spaces:
        return "\t"
    if not spaces:
        return None
    common = [d for d, _ in deltas.most_common() if d in _WIDTHS]
    return " " * common[0] if common else None


def _columns(lead: str, tab: int) -> int:
    return sum(tab if ch == "\t" else 1 for ch in lead)


class IndentStyle(StreamFilter):
    name = "IndentStyle"

    def __init__(self, unit: str, cursor_line_prefix: str, first_line_absolute: bool = True) -> None:
        self.unit = unit
        self.width = 4 if unit == "\t" else len(unit)  # columns of one level
        cursor_indent = cursor_line_prefix[: len(cursor_line_prefix) - len(cursor_line_prefix.lstrip(" \t"))]
        self.base = _columns(cursor_indent, self.width)  # the cursor's indentation, in columns
        # On a blank cursor line the first line's whitespace is its whole
        # indentation when the model's prompt left the cursor line's out (see
        # `model_prefix`), else it adds to the editor's.
        blank = not cursor_line_prefix.strip()
        self.first_offset = None if not blank else 0 if first_line_absolute else self.base
        self.at_line_start = self.first_offset is not None
        self.lead = ""
        self.model_width: int | None = None  # the model's width of one level, once seen
        # The previous line with code: its column (as the model wrote it) and whether it opens a block.
        self.line = "" if blank else cursor_line_prefix
        self.prev_column: int | None = None if blank else self.base
        self.prev_opens = False

    @classmethod
    def for_site(cls, site: Site) -> IndentStyle | None:
        """None where the code around the cursor shows no indentation unit."""
        line_prefix = site.cursor.line_prefix
        # The cursor's blank line counts too: its indentation is the editor's (`_` stands for the code to come).
        cursor_code = "_" if line_prefix and not line_prefix.strip() else ""
        unit = file_indent(site.nearby_prefix + cursor_code + site.nearby_suffix)
        if unit is None:
            return None
        return cls(unit, line_prefix, first_line_absolute=not site.indent_in_prompt)

    def push(self, text: str) -> str:
        out = []
        for ch in text:
            if not self.at_line_start:
                out.append(ch)
                if ch == "\n":
                    self.at_line_start = True
                    self.first_offset = 0
                    code = self.line.strip()
                    self.prev_opens = code.endswith(BLOCK_OPENERS) and not code.startswith(_COMMENTS)
                    self.line = ""
                else:
                    self.line += ch
                continue
            if ch in " \t":
                self.lead += ch
                continue
            if ch == "\n":  # a blank line: its whitespace is nobody's business
                out.append(ch)
                self.lead = ""
                continue
            out.append(self._rewrite(self.lead) + ch)
            self.lead = ""
            self.line = ch
            self.at_line_start = False
        return "".join(out)

    def _rewrite(self, lead: str) -> str:
        offset = self.first_offset or 0
        model_tab = self.model_width or self.width
        column = offset + _columns(lead, model_tab)
        # Where the line sits: a first line never sits left of the editor's indentation.
        sits = max(column, self.base) if self.prev_column is None else column
        if self.model_width is None and self.prev_opens and self.prev_column is not None and "\t" not in lead:
            step = sits - self.prev_column  # one level, in the model's width
            if step > 0:
                wide = step in _WIDTHS and step != self.width and (step == 2 * self.width or 2 * step == self.width)
                self.model_width = step if wide else self.width
        self.prev_column = sits
        if not lead:
            return lead
        relative = column - self.base
        if relative > 0 and self.model_width and self.model_width != self.width:
            levels, rest = divmod(relative, self.model_width)
            column = self.base + levels * self.width + rest
        column -= offset
        if column < 0:
            return lead
        if self.unit == "\t":
            return "\t" * (column // self.width) + " " * (column % self.width)
        return " " * column

    def flush(self) -> str:
        self.lead = ""  # whitespace at the very end is dropped anyway
        return ""
