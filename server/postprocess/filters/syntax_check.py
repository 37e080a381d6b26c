"""SyntaxCheck: a multi-line completion keeps only lines that parse.

With the request's language known, each completed line is judged by parsing
prefix + completion so far + suffix with tree-sitter: the completion is clean
when no error or missing node touches its text. A line that leaves a bracket
open (`if (x) {`, `foo(a,`) cannot be judged yet and is held with the lines
after it until the construct closes. The completion ends at the last clean
point: before the first line that adds syntax errors (a small model's prose,
`This function adds two numbers.`, or a half-written statement when the
tokens ran out).

Streaming is by lines here: a line is passed on when it is complete and
judged, never a character earlier, since no parser can judge half a line.
Where the code around the cursor is already broken (an error node at the
cursor without any completion) nothing can be judged and everything passes.
"""

from __future__ import annotations

from ...languages import parser_for
from ..cursor import Site
from ..lexer import CLOSERS, OPENERS, CodeLexer, parse_window
from ..pipeline import StreamFilter


def _errors_touch(node, start: int, end: int) -> bool:
    """An error or missing node under `node` touches bytes [start, end]."""
    stack = [node] if node.has_error else []
    while stack:
        n = stack.pop()
        if n.is_error or n.is_missing:
            return True
        stack.extend(c for c in n.children
                     if (c.has_error or c.is_missing) and c.start_byte <= end and c.end_byte >= start)
    return False


class _Document:
    """prefix + completion + suffix, parsed again incrementally (tree-sitter
    reuses the old tree) each time the completion grows."""

    def __init__(self, lang: str, prefix: bytes, suffix: bytes) -> None:
        self.parser = parser_for(lang)
        self.prefix, self.suffix, self.completion = prefix, suffix, b""
        self.tree = self.parser.parse(prefix + suffix)
        self.point = (prefix.count(b"\n"), len(prefix) - (prefix.rfind(b"\n") + 1))  # the cursor's (row, column)

    def grow(self, added: bytes) -> None:
        at = len(self.prefix) + len(self.completion)
        rows = added.count(b"\n")
        row, column = self.point
        end = (row + rows, len(added) - (added.rfind(b"\n") + 1) if rows else column + len(added))
        self.tree.edit(start_byte=at, old_end_byte=at, new_end_byte=at + len(added),
                       start_point=self.point, old_end_point=self.point, new_end_point=end)
        self.completion += added
        self.point = end
        self.tree = self.parser.parse(self.prefix + self.completion + self.suffix, self.tree)


class SyntaxCheck(StreamFilter):
    name = "SyntaxCheck"

    def __init__(self, prefix: str, suffix: str, lang: str) -> None:
        window_prefix, window_suffix = parse_window(prefix, suffix)
        self.doc = _Document(lang, window_prefix.encode("utf-8"), window_suffix.encode("utf-8"))
        at = len(self.doc.prefix)
        # A file already broken at the cursor cannot tell us anything.
        self.judging = not _errors_touch(self.doc.tree.root_node, at, at)
        self.lexer = CodeLexer(lang)
        for ch in prefix.rsplit("\n", 1)[-1]:
            self.lexer.code(ch)
        self.depth = 0  # brackets the completion has open
        self.passed = ""  # judged clean and passed on
        self.held = ""  # complete lines not judged yet, and the current line

    @classmethod
    def for_site(cls, site: Site) -> SyntaxCheck | None:
        """Multi-line completions in a language with a grammar."""
        if site.mode != "multi_line" or parser_for(site.language) is None:
            return None
        return cls(site.prefix, site.suffix, site.language)

    def push(self, text: str) -> str:
        if not self.judging:
            return text
        out = []
        for ch in text:
            self.held += ch
            if self.lexer.code(ch):
                if ch in OPENERS:
                    self.depth += 1
                elif ch in CLOSERS:
                    self.depth = max(self.depth - 1, 0)
            if ch == "\n" and self.depth == 0:
                if not self._clean(self.passed + self.held):
                    self.done = True
                    self.held = ""
                    break
                out.append(self.held)
                self.passed += self.held
                self.held = ""
        return "".join(out)

    def _clean(self, completion: str) -> bool:
        body = completion.encode("utf-8")
        self.doc.grow(body[len(self.doc.completion):])  # the completion only grows
        start = len(self.doc.prefix)
        return not _errors_touch(self.doc.tree.root_node, start, start + len(body.rstrip()))

    def flush(self) -> str:
        held, self.held = self.held, ""
        if not self.judging or not held.strip():
            return held
        return held if self.depth == 0 and self._clean(self.passed + held) else ""
