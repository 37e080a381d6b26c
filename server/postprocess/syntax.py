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

from ..languages import parser_for
from .brackets import _CLOSERS, _OPENERS, _Lexer
from .pipeline import StreamFilter


def _error_spans(lang: str, text: bytes) -> list[tuple[int, int]]:
    tree = parser_for(lang).parse(text)
    if not tree.root_node.has_error:
        return []
    spans, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            spans.append((node.start_byte, node.end_byte))
        stack.extend(c for c in node.children if c.has_error or c.is_missing)
    return spans


class SyntaxCheck(StreamFilter):
    def __init__(self, prefix: str, suffix: str, lang: str) -> None:
        self.lang = lang
        self.prefix = prefix.encode("utf-8")
        self.suffix = suffix.encode("utf-8")
        at = len(self.prefix)
        # A file already broken at the cursor cannot tell us anything.
        self.judging = not any(s <= at <= e for s, e in _error_spans(lang, self.prefix + self.suffix))
        self.lexer = _Lexer(lang)
        for ch in prefix.rsplit("\n", 1)[-1]:
            self.lexer.code(ch)
        self.depth = 0  # brackets the completion has open
        self.passed = ""  # judged clean and passed on
        self.held = ""  # complete lines not judged yet, and the current line

    def push(self, text: str) -> str:
        if not self.judging:
            return text
        out = []
        for ch in text:
            self.held += ch
            if self.lexer.code(ch):
                if ch in _OPENERS:
                    self.depth += 1
                elif ch in _CLOSERS:
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
        start, end = len(self.prefix), len(self.prefix) + len(body.rstrip())
        spans = _error_spans(self.lang, self.prefix + body + self.suffix)
        return not any(s <= end and e >= start for s, e in spans)

    def flush(self) -> str:
        held, self.held = self.held, ""
        if not self.judging or not held.strip():
            return held
        return held if self.depth == 0 and self._clean(self.passed + held) else ""
