"""Where a completion goes: the text around the cursor, the mode that follows
from it, and `Site`, everything a filter is set up from.

The mode (`resolve_mode`): a request's `mode` other than `auto` is taken as
is. `auto` without a suffix is `raw` (a plain completion request, not an
editor's); with one, `multi_line` only on an empty line right after a block
opener whose body is still empty (the previous code line's trailing comment
left out when the language is known), else `single_line`."""

from __future__ import annotations

from dataclasses import dataclass

from ..prompt.fitting import model_prefix
from .lexer import CodeLexer
from .text import BLOCK_OPENERS, indent_width

# How much code around the cursor shows the file's indentation style (and holds the lines just above).
NEARBY_CHARS = 8000


def _code_of(line: str, language: str | None) -> str:
    """The line without a trailing comment (when the language says what one is)."""
    if language is None:
        return line
    lexer, end = CodeLexer(language), len(line)
    for i, ch in enumerate(line):
        lexer.code(ch)
        if lexer.comment:
            end = i - 1 if lexer.comment == "block" or len(lexer.line_comment or "") == 2 else i
            break
    return line[:end]


@dataclass(frozen=True)
class Cursor:
    """The text around the cursor, as the post-processing rules see it."""

    line_prefix: str  # the cursor's line, before the cursor
    line_suffix: str  # the cursor's line, after the cursor
    previous_line: str  # the last line with code above the cursor's line (trailing comment left out)
    next_line: str = ""  # the first line with code below the cursor's line

    @classmethod
    def at(cls, prefix: str, suffix: str, language: str | None = None) -> Cursor:
        lines = prefix.split("\n")
        previous = next((c for c in (_code_of(ln, language) for ln in reversed(lines[:-1])) if c.strip()), "")
        following = next((ln for ln in suffix.split("\n")[1:] if ln.strip()), "")
        return cls(lines[-1], suffix.split("\n", 1)[0], previous, following)

    @property
    def mid_line(self) -> bool:
        """Code follows the cursor on its line."""
        return bool(self.line_suffix.strip())

    @property
    def on_empty_line(self) -> bool:
        """No code on the cursor's line, before or after it."""
        return not self.line_prefix.strip() and not self.mid_line

    @property
    def opens_block(self) -> bool:
        """On an empty line right after a line that opens a block, and the
        block has no body yet (the code below is not indented deeper than
        the opener): a body is due."""
        return self.on_empty_line and self.previous_line.rstrip().endswith(BLOCK_OPENERS) and \
            not (self.next_line and indent_width(self.next_line) > indent_width(self.previous_line))


def resolve_mode(mode: str, *, has_suffix: bool, cursor: Cursor) -> str:
    """`auto` -> `single_line` / `multi_line` / `raw` for this request.

    An editor's request (it has a suffix) gets several lines only where a
    block's body is due; everywhere else one line, which is what people
    accept most and what is fastest to generate."""
    if mode != "auto":
        return mode
    if not has_suffix:
        return "raw"  # a plain completion request, not an editor's
    return "multi_line" if cursor.opens_block else "single_line"


@dataclass(frozen=True)
class Site:
    """One completion's place in its file, as the filters are set up from it."""

    prefix: str
    suffix: str
    cursor: Cursor
    mode: str  # resolved: `single_line` or `multi_line`
    language: str | None  # a canonical name from `codefill.server.languages`; None: agnostic rules only
    disabled: frozenset[str] = frozenset()  # filter names the operator switched off

    @property
    def indent_in_prompt(self) -> bool:
        """False where the model was shown the prefix without the cursor line's indentation (`model_prefix`)."""
        return model_prefix(self.prefix) == self.prefix

    @property
    def nearby_prefix(self) -> str:
        return self.prefix[-NEARBY_CHARS:]

    @property
    def nearby_suffix(self) -> str:
        return self.suffix[:NEARBY_CHARS]
