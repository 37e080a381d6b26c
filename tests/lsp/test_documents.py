"""The bridge's copy of a document under textDocument/didChange: full and
incremental changes, LSP line endings and position encodings."""

from __future__ import annotations

import random

import pytest
from lsprotocol import types

from codefill.lsp.documents import Document, DocumentStore
from tests.lsp.bridge_helpers import lsp_position

UTF8, UTF16, UTF32 = (types.PositionEncodingKind.Utf8, types.PositionEncodingKind.Utf16,
                      types.PositionEncodingKind.Utf32)


def edit(doc: Document, start: int, end: int, new: str) -> None:
    text = doc.text
    doc.apply(types.TextDocumentContentChangePartial(
        range=types.Range(start=lsp_position(text, start, doc.encoding), end=lsp_position(text, end, doc.encoding)),
        text=new))


def test_full_change_replaces_the_text():
    doc = Document("file:///a.py", "python", 1, "old\ntext\n")
    doc.apply(types.TextDocumentContentChangeWholeDocument(text="new"))
    assert doc.text == "new"
    assert doc.line_count == 1


def test_incremental_insert_delete_and_replace_across_lines():
    doc = Document("file:///a.py", "python", 1, "def f():\n    pass\n")
    edit(doc, 9, 9, "    x = 1\n")
    assert doc.text == "def f():\n    x = 1\n    pass\n"
    edit(doc, 4, 19, "")  # "f():\n    x = 1\n" -> ""
    assert doc.text == "def     pass\n"
    edit(doc, 4, 8, "g():\n    ")
    assert doc.text == "def g():\n    pass\n"


def test_changes_in_one_notification_apply_in_order():
    store = DocumentStore()
    store.open(types.TextDocumentItem(uri="file:///a.py", language_id="python", version=1, text="abc\n"))
    pos = types.Position
    store.change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri="file:///a.py", version=2),
        content_changes=[
            types.TextDocumentContentChangePartial(range=types.Range(pos(0, 3), pos(0, 3)), text="d"),
            # Position (0, 4) exists only after the first change.
            types.TextDocumentContentChangePartial(range=types.Range(pos(0, 4), pos(0, 4)), text="e"),
            types.TextDocumentContentChangePartial(range=types.Range(pos(0, 0), pos(0, 1)), text="A"),
        ]))
    doc = store.get("file:///a.py")
    assert doc.text == "Abcde\n"
    assert doc.version == 2


@pytest.mark.parametrize("encoding, column", [(UTF16, 6), (UTF8, 8), (UTF32, 5)])
def test_columns_count_in_the_negotiated_encoding(encoding, column):
    # "x = 😀" is 5 code points, 6 UTF-16 units (a surrogate pair), 8 UTF-8 bytes.
    doc = Document("file:///a.py", "python", 1, "x = 😀\ny\n", encoding)
    doc.apply(types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(0, column), types.Position(0, column)), text="!"))
    assert doc.text == "x = 😀!\ny\n"


def test_only_lsp_line_breaks_count():
    # \f and U+2028 are line breaks for str.splitlines, not for the LSP.
    doc = Document("file:///a.py", "python", 1, "a\fb\u2028c\r\nd\re\nf")
    assert doc.line_count == 4
    assert [doc.line_text(i) for i in range(4)] == ["a\fb\u2028c", "d", "e", "f"]
    doc.apply(types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(1, 1), types.Position(2, 0)), text="|"))
    assert doc.text == "a\fb\u2028c\r\nd|e\nf"


def test_positions_past_the_end_are_clamped():
    doc = Document("file:///a.py", "python", 1, "ab\ncd")
    assert doc.offset_at(types.Position(0, 99)) == 2
    assert doc.offset_at(types.Position(9, 0)) == len(doc.text)
    doc.apply(types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(1, 2), types.Position(1, 2)), text="\nef"))
    assert doc.text == "ab\ncd\nef"
    assert doc.last_edit_line == 2


ALPHABET = "abc xyz_(){}:=\n\n\r\n\t😀é中"


def test_a_random_editing_session_matches_string_edits():
    rng = random.Random(5)
    for encoding in (UTF16, UTF8, UTF32):
        expected = "import os\r\n\ndef main():\n    print('héllo 😀')\n"
        doc = Document("file:///a.py", "python", 1, expected, encoding)
        for _ in range(400):
            start = rng.randint(0, len(expected))
            end = min(len(expected), start + rng.choice([0, 0, 1, 3, 12]))
            new = "".join(rng.choice(ALPHABET) for _ in range(rng.choice([0, 1, 1, 2, 8])))
            # Never split a "\r\n": no editor position lies between the two.
            if start and expected[start - 1] == "\r" and expected[start:start + 1] == "\n":
                start -= 1
            if end and expected[end - 1] == "\r" and expected[end:end + 1] == "\n":
                end += 1
            edit(doc, start, end, new)
            expected = expected[:start] + new + expected[end:]
            assert doc.text == expected
            probe = rng.randint(0, len(expected))
            if not (probe and expected[probe - 1] == "\r" and expected[probe:probe + 1] == "\n"):
                assert doc.position_at(probe) == lsp_position(expected, probe, encoding)
