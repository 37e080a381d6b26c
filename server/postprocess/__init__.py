"""Post-processing: which filters a request gets, decided from where its cursor is."""

from __future__ import annotations

from dataclasses import dataclass

from ..languages import parser_for
from .brackets import BracketBalance, CodeLexer
from .filters import (
    BlockEnd,
    CodeFence,
    LeadingBlankLines,
    SingleLine,
    StopSequences,
    SuffixOverlap,
    SuffixRepeat,
    TrailingWhitespace,
    model_prefix,
)
from .indent import BLOCK_OPENERS, IndentStyle, file_indent
from .pipeline import Pipeline, StreamFilter, run_to_end
from .repeats import LoopStop, RepeatsAbove
from .syntax import SyntaxCheck

__all__ = ["FILTERS", "Cursor", "Pipeline", "StreamFilter", "build_pipeline", "model_prefix", "resolve_mode",
           "run_to_end"]

# The filters an operator may switch off (`codefill serve --disable-filter NAME`; `all` for every one),
# e.g. to see what one costs or gains (`codefill bench quality --ablate`). The request's own `stop`
# sequences always apply.
FILTERS = ("CodeFence", "IndentStyle", "LeadingBlankLines", "SingleLine", "BlockEnd", "BracketBalance",
           "SyntaxCheck", "SuffixRepeat", "RepeatsAbove", "LoopStop", "SuffixOverlap", "TrailingWhitespace")


def disabled_filters(names: list[str] | tuple[str, ...]) -> frozenset[str]:
    """Validated filter names (`all` stands for every one)."""
    out = set()
    for name in names:
        if name == "all":
            out.update(FILTERS)
        elif name in FILTERS:
            out.add(name)
        else:
            raise ValueError(f"no filter named {name!r}; the filters are: all, {', '.join(FILTERS)}")
    return frozenset(out)


# How much code around the cursor shows the file's indentation style (and holds the lines just above).
_INDENT_SAMPLE_CHARS = 8000


def _indent_width(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


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
    def opens_block(self) -> bool:
        """On an empty line right after a line that opens a block, and the
        block has no body yet (the code below is not indented deeper than
        the opener): a body is due."""
        return not self.line_prefix.strip() and not self.mid_line and \
            self.previous_line.rstrip().endswith(BLOCK_OPENERS) and \
            not (self.next_line and _indent_width(self.next_line) > _indent_width(self.previous_line))


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


def build_pipeline(*, mode: str, stops: list[str], prefix: str, suffix: str | None,
                   language: str | None = None, disabled: frozenset[str] = frozenset()) -> Pipeline:
    """The filters for one completion, in order. `mode` is already resolved;
    `language` is a canonical name from `codefill.server.languages` (None:
    only the language-agnostic rules); `disabled`: names from FILTERS to leave out."""
    if mode == "raw":
        return Pipeline([StopSequences(stops)] if stops else [])
    suffix = suffix or ""
    cursor = Cursor.at(prefix, suffix)
    # On an empty line the answer is that line's code: a stop in the blank lines before it does not count.
    blank_line = not cursor.line_prefix.strip() and not cursor.mid_line
    stop_filters: list[StreamFilter] = [StopSequences(stops, after_code=blank_line)] if stops else []
    filters = _filters(mode, prefix, suffix, cursor, language, brackets_decided="BracketBalance" not in disabled)
    return Pipeline(stop_filters + [f for f in filters if type(f).__name__ not in disabled])


def _filters(mode: str, prefix: str, suffix: str, cursor: Cursor, language: str | None, *,
             brackets_decided: bool) -> list[StreamFilter]:
    filters: list[StreamFilter] = []
    # The model is shown `model_prefix(prefix)`: indentation of an empty cursor line left out.
    indent_in_prompt = model_prefix(prefix) == prefix
    filters.append(CodeFence())
    # The cursor's blank line counts too: its indentation is the editor's (`_` stands for the code to come).
    cursor_code = "_" if cursor.line_prefix and not cursor.line_prefix.strip() else ""
    unit = file_indent(prefix[-_INDENT_SAMPLE_CHARS:] + cursor_code + suffix[:_INDENT_SAMPLE_CHARS])
    if unit is not None:
        filters.append(IndentStyle(unit, cursor.line_prefix, first_line_absolute=not indent_in_prompt))
    filters.append(LeadingBlankLines(cursor.line_prefix, indent_in_prompt=indent_in_prompt))
    if mode == "single_line":
        filters.append(SingleLine(allow_next_line=not cursor.mid_line))
    else:
        filters.append(BlockEnd(cursor.line_prefix))
    filters.append(BracketBalance(prefix, suffix, language, multi_line=mode == "multi_line"))
    if mode == "multi_line" and parser_for(language) is not None:
        filters.append(SyntaxCheck(prefix, suffix, language))
    filters.append(SuffixRepeat(suffix))
    # A copy of a line above is the model echoing instead of writing on a fresh line or block;
    # once the user has typed part of the line, repeating a line above is their own choice.
    if mode == "multi_line" or not cursor.line_prefix.strip():
        filters.append(RepeatsAbove(prefix[-_INDENT_SAMPLE_CHARS:]))
    if mode == "multi_line":
        filters.append(LoopStop())
    if mode == "single_line" and cursor.mid_line:
        filters.append(SuffixOverlap(cursor.line_suffix, brackets_decided=brackets_decided))
    filters.append(TrailingWhitespace())
    return filters
