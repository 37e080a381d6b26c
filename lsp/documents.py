"""The editor's open documents, as the bridge sees them: textDocument/didOpen,
textDocument/didChange (full and incremental) and textDocument/didClose.

Positions arrive as LSP positions: a line and a column counted in the
negotiated position encoding (UTF-16 code units unless client and server agree
on UTF-8 or UTF-32). Lines end at "\\n", "\\r\\n" or "\\r" and nowhere else, as the
LSP says; Python's `splitlines` also breaks at form feeds and U+2028, which
would shift every position after one of them, so it is not used here.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

from lsprotocol import types

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class Document:
    uri: str
    language_id: str
    version: int
    text: str
    encoding: str = types.PositionEncodingKind.Utf16
    last_edit_line: int = 0
    """Where the user last changed this document: other documents' extra
    context is taken from around there."""
    touched: float = field(default_factory=time.monotonic)
    _starts: list[int] | None = field(default=None, repr=False)

    # -- lines ---------------------------------------------------------------

    @property
    def line_starts(self) -> list[int]:
        """Offset of the first character of every line."""
        if self._starts is None:
            self._starts = [0] + [m.end() for m in _LINE_BREAK.finditer(self.text)]
        return self._starts

    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    def line_end(self, line: int) -> int:
        """Offset just before the line break that ends `line` (or of the end of the text)."""
        starts = self.line_starts
        if line + 1 >= len(starts):
            return len(self.text)
        end = starts[line + 1]
        if self.text.startswith("\r\n", end - 2):
            return end - 2
        return end - 1

    def line_text(self, line: int) -> str:
        return self.text[self.line_starts[line]:self.line_end(line)]

    def line_of(self, offset: int) -> int:
        return bisect_right(self.line_starts, offset) - 1

    # -- positions -----------------------------------------------------------

    def offset_at(self, position: types.Position, encoding: str | None = None) -> int:
        """The string index of an LSP position (columns counted in `encoding`,
        by default the negotiated one). Past the end of a line means the end
        of that line, past the last line the end of the text (the LSP asks
        servers to be lenient in both cases)."""
        if position.line >= self.line_count:
            return len(self.text)
        start = self.line_starts[position.line]
        line = self.text[start:self.line_end(position.line)]
        return start + _column_to_index(line, position.character, encoding or self.encoding)

    def position_at(self, offset: int, encoding: str | None = None) -> types.Position:
        line = self.line_of(offset)
        start = self.line_starts[line]
        return types.Position(line, _index_to_column(self.text[start:offset], encoding or self.encoding))

    # -- changes -------------------------------------------------------------

    def apply(self, change: types.TextDocumentContentChangeEvent) -> tuple[int, int]:
        """Apply one change; answer where it was: the line it starts on (the
        same in the text before and after) and the line it ends on in the
        text after. A whole-document change is located by what it kept."""
        if isinstance(change, types.TextDocumentContentChangePartial):
            start = self.offset_at(change.range.start)
            end = max(start, self.offset_at(change.range.end))
            new = change.text
        else:
            start, end, new = _changed_part(self.text, change.text)
        first = self.line_of(start)
        self.text = self.text[:start] + new + self.text[end:]
        self._starts = None
        self.last_edit_line = self.line_of(start + len(new))
        self.touched = time.monotonic()
        return first, self.last_edit_line


def _changed_part(old: str, new: str) -> tuple[int, int, str]:
    """(start, end, text): `old[start:end]` replaced by `text` gives `new`,
    the unchanged head and tail as long as they can be. Binary search on
    slices: a whole-document change of a large file costs a few C-speed
    comparisons, not a loop over its characters."""
    limit = min(len(old), len(new))
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if old[:mid] == new[:mid]:
            lo = mid
        else:
            hi = mid - 1
    head = lo
    lo, hi = 0, limit - head
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if old[len(old) - mid:] == new[len(new) - mid:]:
            lo = mid
        else:
            hi = mid - 1
    return head, len(old) - lo, new[head:len(new) - lo]


def _column_to_index(line: str, column: int, encoding: str) -> int:
    if column <= 0:
        return 0
    if encoding == types.PositionEncodingKind.Utf32 or line.isascii():
        return min(column, len(line))
    units = 0
    for i, ch in enumerate(line):
        units += _width(ch, encoding)
        if units > column:
            # Inside a character (half a surrogate pair, a byte of UTF-8):
            # the position means the character's start.
            return i
        if units == column:
            return i + 1
    return len(line)


def _index_to_column(text_before: str, encoding: str) -> int:
    if encoding == types.PositionEncodingKind.Utf32 or text_before.isascii():
        return len(text_before)
    return sum(_width(ch, encoding) for ch in text_before)


def _width(ch: str, encoding: str) -> int:
    if encoding == types.PositionEncodingKind.Utf8:
        return len(ch.encode("utf-8"))
    return 2 if ord(ch) > 0xFFFF else 1


class DocumentStore:
    def __init__(self) -> None:
        self._docs: dict[str, Document] = {}
        self.encoding: str = types.PositionEncodingKind.Utf16

    def open(self, item: types.TextDocumentItem) -> Document:
        doc = Document(item.uri, item.language_id, item.version, item.text, self.encoding)
        self._docs[item.uri] = doc
        return doc

    def change(self, params: types.DidChangeTextDocumentParams,
               on_change: Callable[[Document, str, int, int], None] | None = None) -> Document | None:
        """Apply a didChange. `on_change(doc, text_before, first_line, last_line)`
        hears of each change in it (the edit history, history.py)."""
        doc = self._docs.get(params.text_document.uri)
        if doc is None:
            return None
        # Changes in one notification apply one after another, each to the
        # text the previous one left.
        for change in params.content_changes:
            before = doc.text
            first, last = doc.apply(change)
            if on_change is not None:
                on_change(doc, before, first, last)
        doc.version = params.text_document.version
        return doc

    def close(self, uri: str) -> None:
        self._docs.pop(uri, None)

    def get(self, uri: str) -> Document | None:
        return self._docs.get(uri)

    def others(self, uri: str) -> list[Document]:
        """The other open documents, the most recently touched first."""
        return sorted((d for d in self._docs.values() if d.uri != uri), key=lambda d: d.touched, reverse=True)

    def __len__(self) -> int:
        return len(self._docs)
