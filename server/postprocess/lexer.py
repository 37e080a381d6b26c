"""Reading code around the cursor: brackets outside strings and comments, and
tree-sitter's verdict on a piece of code."""

from __future__ import annotations

from ..languages import parse

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
