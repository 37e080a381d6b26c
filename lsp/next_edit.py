"""Next edits: what the bridge asks `POST /v1/next_edit`, and how the answer
becomes LSP edits (for textDocument/copilotInlineEdit, inline_edit.py, and
for inline completion items, inline.py).

The request carries the document's path and language, a window of its text
(`text_offset` says on which line it starts), the cursor, the edit history
(history.py) and snippets of the other open documents as `related`, the same
ones completions get as `input_extra` (context.py). The window is the
`WINDOW_LINES` lines before and after the cursor, its ends snapped to
multiples of `ANCHOR_LINES` so that consecutive requests show the server the
same text (its KV cache); at most `MAX_TEXT_CHARS` characters.

Positions: the server counts columns in UTF-16 code units, the editor in the
encoding negotiated at `initialize`; the bridge converts both ways. The text
goes with its line breaks written "\\n" (as the history's diffs are), which
moves no position: a line break ends a line whatever it is, and columns do
not count it. An edit's text gets the document's own line break back
(that of its first line), so a CRLF file stays CRLF.

An answer's edits refer to the text as it was when the request was made:
they are converted against that copy of the document, and carry its version.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from lsprotocol import types

from .api import NextEditAnswer
from .context import display_path, extra_context
from .documents import Document, DocumentStore
from .history import EditHistory

log = logging.getLogger("codefill.lsp.next_edit")

WINDOW_LINES = 200
ANCHOR_LINES = 64
MAX_TEXT_CHARS = 64_000
UTF16 = types.PositionEncodingKind.Utf16
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class Proposal:
    """The edits the server proposed for one request."""

    id: str
    doc: Document
    """The document as it was when asked: the edits' positions refer to it, with its version."""
    cursor: types.Position
    edits: list[types.TextEdit]
    """In the editor's position encoding, in file order."""

    def edit_id(self, index: int) -> str:
        return f"{self.id}/{index}"


@dataclass
class NextEditStats:
    """What became of next edits in this session (`codefill/status`): answers `proposed` (at least
    one edit) or `empty` (`no_edit`, or nothing that fits the document), edits `shown`
    (textDocument/didShowInlineEdit) and `accepted` (their accept command, run by the editor through
    workspace/executeCommand)."""

    requested: int = 0
    proposed: int = 0
    empty: int = 0
    shown: int = 0
    accepted: int = 0
    last_shown: str | None = field(default=None)

    def report(self) -> dict:
        return {"requested": self.requested, "proposed": self.proposed, "empty": self.empty,
                "shown": self.shown, "accepted": self.accepted, "lastShown": self.last_shown}


def snapshot(doc: Document) -> Document:
    return Document(doc.uri, doc.language_id, doc.version, doc.text, doc.encoding)


def window(line: int, line_count: int, lines: int = WINDOW_LINES) -> tuple[int, int]:
    """First line and the line after the last of the text sent for a cursor on `line`."""
    first = max(0, line - lines)
    first -= first % ANCHOR_LINES
    end = line + 1 + lines
    end += -end % ANCHOR_LINES
    return first, min(end, line_count)


def request_body(store: DocumentStore, doc: Document, offset: int, roots: list[str],
                 history: EditHistory) -> dict | None:
    """The body for a cursor at `offset` of `doc` (all but `model` and
    `user`), or None when even the cursor's line is over MAX_TEXT_CHARS."""
    line = doc.line_of(offset)
    lines = WINDOW_LINES
    while True:
        first, end = window(line, doc.line_count, lines)
        text = doc.text[doc.line_starts[first]:doc.line_starts[end] if end < doc.line_count else len(doc.text)]
        if len(text) <= MAX_TEXT_CHARS:
            break
        if lines == 0:
            log.info("no next edit for %s: its line %d alone is over %d characters", doc.uri, line, MAX_TEXT_CHARS)
            return None
        lines //= 2
    cursor = doc.position_at(offset, UTF16)
    return {
        "path": display_path(doc.uri, roots),
        "language": doc.language_id,
        "text": _LINE_BREAK.sub("\n", text),
        "text_offset": first,
        "cursor": {"line": cursor.line, "character": cursor.character},
        "history": history.events(),
        "related": [{"path": e["filename"], "text": e["text"]} for e in extra_context(store, doc, roots)],
    }


def proposal(answer: NextEditAnswer, doc: Document, cursor: types.Position) -> Proposal:
    """The answer's edits as LSP edits against `doc` (the copy the request
    was made from). An edit that does not fit it (a range out of the text,
    ends in the wrong order) or that changes nothing is left out and logged."""
    line_break = (m.group() if (m := _LINE_BREAK.search(doc.text)) else "\n")
    edits: list[types.TextEdit] = []
    for edit in [] if answer.no_edit else answer.edits:
        try:
            start, end = _offset(doc, edit["range"]["start"]), _offset(doc, edit["range"]["end"])
            text = str(edit["text"])
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("next edit %s: an edit that does not fit the document was left out (%s): %r",
                        answer.id, exc, edit)
            continue
        if end < start:
            log.warning("next edit %s: an edit that ends before it starts was left out: %r", answer.id, edit)
            continue
        if line_break != "\n":
            text = text.replace("\n", line_break)
        if doc.text[start:end] == text:
            continue
        edits.append(types.TextEdit(range=types.Range(doc.position_at(start), doc.position_at(end)), new_text=text))
    edits.sort(key=lambda e: (e.range.start.line, e.range.start.character))
    return Proposal(answer.id, doc, cursor, edits)


def _offset(doc: Document, position: dict) -> int:
    """The string index of a server position (UTF-16 columns); ValueError if outside the text."""
    line, character = position["line"], position["character"]
    if not (isinstance(line, int) and isinstance(character, int)) or line < 0 or character < 0:
        raise ValueError("positions are whole numbers from 0")
    if line >= doc.line_count:
        raise ValueError(f"line {line} is past the document's {doc.line_count} lines")
    text = doc.line_text(line)
    if character > len(text.encode("utf-16-le")) // 2:
        raise ValueError(f"character {character} is past the end of line {line}")
    return doc.offset_at(types.Position(line, character), UTF16)


def inline_item(proposal: Proposal, edit: types.TextEdit, cursor: types.Position) -> types.InlineCompletionItem | None:
    """An edit on the cursor's line as an inline completion item, or None
    when it is not on that line. LSP 3.18 items replace a range on one line
    that holds the cursor, so the edit's range is widened to the cursor, the
    text between them put back into the item's text."""
    doc, r = proposal.doc, edit.range
    if not (r.start.line == r.end.line == cursor.line):
        return None
    start, end, at = doc.offset_at(r.start), doc.offset_at(r.end), doc.offset_at(cursor)
    text = doc.text[at:start] + edit.new_text + doc.text[end:at]
    start, end = min(start, at), max(end, at)
    return types.InlineCompletionItem(insert_text=text,
                                      range=types.Range(doc.position_at(start), doc.position_at(end)))


def as_copilot_edits(proposal: Proposal, command: str) -> list[dict]:
    """The edits in the shape of copilot-language-server's
    textDocument/copilotInlineEdit answer (see inline_edit.py)."""
    return [{
        "text": edit.new_text,
        "textDocument": {"uri": proposal.doc.uri, "version": proposal.doc.version},
        "range": {"start": {"line": edit.range.start.line, "character": edit.range.start.character},
                  "end": {"line": edit.range.end.line, "character": edit.range.end.character}},
        "command": {"title": "Accept next edit", "command": command, "arguments": [proposal.edit_id(i)]},
    } for i, edit in enumerate(proposal.edits)]
