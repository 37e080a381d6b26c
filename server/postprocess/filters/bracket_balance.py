"""BracketBalance: brackets balanced against the suffix.

Editors insert the closing bracket as soon as the opening one is typed, so
the code after the cursor often closes what the code before it opened:
`print(|)`, `if (x) {⏎|⏎}`. A model that does not see (or ignores) the suffix
closes them again: `"hi")`, `  return 1;⏎}`. This filter follows the brackets
the completion opens and closes; when it closes one that was opened before
the cursor, it asks whether the suffix already closes it:

- with a grammar (the request's language): parse prefix + completion + suffix
  with and without the closing bracket; the bracket is a repeat when it adds
  syntax errors (tree-sitter error and missing nodes).
- without one: count the brackets still open at the cursor and the ones the
  suffix closes (for a single line, the rest of the cursor's line only);
  the completion may close only the difference.

A repeat ends the completion before it. A closing bracket the code needs is
kept, and a multi-line completion ends with its line: the block it closes was
the one the cursor was in.
"""

from __future__ import annotations

from ...languages import parser_for
from ..cursor import Site
from ..lexer import CLOSERS, OPENERS, CodeLexer, parse_window, syntax_errors
from ..pipeline import StreamFilter

# How far from the cursor the grammar-less count looks.
_SCAN_CHARS = 4000


def _open_count(prefix: str, lang: str | None) -> int:
    """Brackets still open at the end of `prefix`."""
    lexer, depth = CodeLexer(lang), 0
    for ch in prefix:
        if lexer.code(ch):
            if ch in OPENERS:
                depth += 1
            elif ch in CLOSERS:
                depth = max(depth - 1, 0)
    return depth


def _close_count(suffix: str, lang: str | None) -> int:
    """Closing brackets in `suffix` that close something opened before it."""
    lexer, depth, closes = CodeLexer(lang), 0, 0
    for ch in suffix:
        if lexer.code(ch):
            if ch in OPENERS:
                depth += 1
            elif ch in CLOSERS:
                if depth:
                    depth -= 1
                else:
                    closes += 1
    return closes


class BracketBalance(StreamFilter):
    name = "BracketBalance"

    def __init__(self, prefix: str, suffix: str, lang: str | None, multi_line: bool) -> None:
        self.prefix = prefix
        self.suffix = suffix
        self.lang = lang
        self.multi_line = multi_line
        self.lexer = CodeLexer(lang)
        for ch in prefix.rsplit("\n", 1)[-1]:  # the cursor may be inside a string
            self.lexer.code(ch)
        self.lexer.prev = ""
        self.open: list[str] = []  # brackets the completion opened and has not closed
        self.text = ""  # the completion so far, as passed on
        self.closed_outer = False  # a needed closing bracket was passed: end with this line
        self.still_open: int | None = None  # without a grammar: brackets left for the completion to close

    @classmethod
    def for_site(cls, site: Site) -> BracketBalance:
        return cls(site.prefix, site.suffix, site.language, multi_line=site.mode == "multi_line")

    def push(self, text: str) -> str:
        start = len(self.text)
        for ch in text:
            if self.closed_outer and ch == "\n":
                self.done = True
                break
            if self.lexer.code(ch):
                if ch in OPENERS:
                    self.open.append(ch)
                elif ch in CLOSERS:
                    if self.open:
                        self.open.pop()
                    elif self._suffix_closes(ch):
                        self.done = True
                        break
                    elif self.multi_line:
                        self.closed_outer = True
            self.text += ch
        return self.text[start:]

    def _suffix_closes(self, closer: str) -> bool:
        if parser_for(self.lang) is not None:
            prefix, suffix = parse_window(self.prefix, self.suffix)
            before = prefix + self.text
            return syntax_errors(self.lang, before + closer + suffix) > syntax_errors(self.lang, before + suffix)
        # Without a grammar: count. The brackets open at the cursor that the
        # suffix does not close are the ones the completion may close.
        # One line: only the rest of the cursor's line (where editors put their closing brackets)
        # counts; later lines' brackets, uncounted comments and prose in strings say little.
        if self.still_open is None:
            counted = self.suffix if self.multi_line else self.suffix.split("\n", 1)[0]
            self.still_open = _open_count(self.prefix[-_SCAN_CHARS:], self.lang) - \
                _close_count(counted[:_SCAN_CHARS], self.lang)
        self.still_open -= 1
        return self.still_open < 0
