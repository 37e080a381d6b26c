"""Brackets balanced against the suffix.

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

from ..languages import parse, parser_for
from .pipeline import StreamFilter

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = set(OPENERS.values())


# How much code around the cursor the parser sees: enough for any enclosing
# block an editor's window holds, bounded for API clients that send whole files.
PARSE_PREFIX_CHARS, PARSE_SUFFIX_CHARS = 32_000, 16_000


def parse_window(prefix: str, suffix: str) -> tuple[str, str]:
    """The code around the cursor to parse, cut at line boundaries."""
    if len(prefix) > PARSE_PREFIX_CHARS:
        head = prefix[-PARSE_PREFIX_CHARS:]
        prefix = head[head.find("\n") + 1:]
    if len(suffix) > PARSE_SUFFIX_CHARS:
        suffix = suffix[: suffix.rfind("\n", 0, PARSE_SUFFIX_CHARS) + 1]
    return prefix, suffix


def syntax_errors(lang: str, text: str) -> int:
    """Error and missing nodes in `text` parsed as `lang` (0 without a grammar)."""
    tree = parse(lang, text)
    if tree is None or not tree.root_node.has_error:
        return 0
    count = 0
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
        stack.extend(c for c in node.children if c.has_error or c.is_missing)
    return count


class CodeLexer:
    """Just enough of a lexer to skip brackets in strings and comments."""

    def __init__(self, lang: str | None) -> None:
        self.line_comment = "#" if lang == "python" else ("//" if lang else None)
        self.block_comments = lang not in (None, "python")
        # Rust's lifetimes ('a) are not quotes; an unknown language's prose has apostrophes.
        self.quotes = {"python": "'\""}.get(lang, "\"" if lang in (None, "rust") else "'\"`")
        self.string: str | None = None  # the quote of the string we are in
        self.comment: str | None = None  # "line" or "block"
        self.escape = False
        self.prev = ""

    def code(self, ch: str) -> bool:
        """Feed one character; True when it is code (not in a string or comment)."""
        prev, self.prev = self.prev, ch
        if ch == "\n":
            self.comment = None if self.comment == "line" else self.comment
            if self.string and self.string != "`":  # only template strings span lines here
                self.string = None
            self.escape = False
            return True
        if self.comment == "block":
            if prev == "*" and ch == "/":
                self.comment = None
            return False
        if self.comment:
            return False
        if self.string:
            if self.escape:
                self.escape = False
            elif ch == "\\":
                self.escape = True
            elif ch == self.string:
                self.string = None
            return False
        if ch in self.quotes:
            self.string = ch
            return False
        lc = self.line_comment
        if lc and (ch == lc if len(lc) == 1 else prev + ch == lc):
            self.comment = "line"
            return False
        if self.block_comments and prev == "/" and ch == "*":
            self.comment = "block"
            return False
        return True


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
