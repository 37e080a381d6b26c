"""textDocument/didOpen, didChange (incremental and full) and didClose end to
end: after a scripted editing session the bridge's text is the editor's, and
completions are built from it."""

from __future__ import annotations

import pytest
from tests.lsp.bridge_helpers import Editor, inline_at, lsp_position, open_document, answer_to_bridge_request, start_bridge, stop_bridge
from lsprotocol import types

from tests.helpers import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_scripted_editing_session(bridge, live_server):
    ed = Editor(bridge, "session.py", "import sys\n\n")
    # Typing, one character per didChange, as editors send it.
    end = ed.type(len(ed.text), "def fibonacci(n):\n    ")
    end = ed.type(end, "if n < 2:\n        return n\n")
    # Backspace three times.
    for _ in range(3):
        ed.change([(end - 1, end, "")])
        end -= 1
    # Paste a block in the middle of the file.
    ed.change([(len("import sys\n"), len("import sys\n"), "import os\nfrom math import sqrt\n")])
    # Replace a selection that spans lines.
    start = ed.text.index("os\nfrom")
    ed.change([(start, start + len("os\nfrom math"), "re\nfrom cmath")])
    # Characters outside the BMP take two UTF-16 units: positions after them must still line up.
    end = len(ed.text)
    end = ed.type(end, "\nGREETING = '😀 hi'\n")
    smile = ed.text.index("😀")
    ed.change([(smile + 1, smile + 1, "!"), (smile + 5, smile + 5, " there")])
    # Several changes in one notification, each relative to the text the previous left.
    ed.change([(0, 0, "#!/usr/bin/env python\n"), (0, 2, "# "), (len(ed.text), len(ed.text), "\n")])
    # Windows line endings arriving in a paste.
    ed.change([(len(ed.text), len(ed.text), "x = 1\r\ny = 2\r\n")])
    mid = ed.text.index("y = 2")
    ed.change([(mid, mid + 1, "why")])
    copy = await ed.bridge_copy()
    assert copy.text == ed.text
    assert copy.version == ed.version

    # A full-document change, then incremental ones again.
    ed.replace_all("def square(x):\n    return x * x\n\n\ndef cube(x):\n    return \n")
    cursor = ed.type(len(ed.text) - 1, "x *")
    ed.change([(cursor - 1, cursor, "")])  # and backspace the "*"
    cursor -= 1
    assert (await ed.bridge_copy()).text == ed.text

    # A completion at the cursor is built from that text.
    pos = lsp_position(ed.text, cursor)
    result = await inline_at(bridge, ed.uri, pos.line, pos.character)
    expected = await answer_to_bridge_request(bridge, prefix=ed.text[:cursor], suffix=ed.text[cursor:])
    assert [item.insert_text for item in result.items] == ([expected] if expected else [])


async def test_close_forgets_the_document(bridge):
    ed = Editor(bridge, "closed.py", "x = 1\n")
    assert (await ed.bridge_copy()).text == "x = 1\n"
    bridge.text_document_did_close(types.DidCloseTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=ed.uri)))
    assert await ed.bridge_copy() is None
    assert not (await inline_at(bridge, ed.uri, 0, 5)).items


async def test_old_lsp_mode_columns_in_characters_are_understood():
    """lsp-mode before it negotiated encodings sends character columns (one
    per emoji, not two) and offers no encodings; it names itself "emacs"."""
    caps = types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(
        synchronization=types.TextDocumentSyncClientCapabilities()))
    client = await start_bridge(f"http://127.0.0.1:{free_port()}", init_options={"prewarm": False},
                                capabilities=caps, client_info=types.ClientInfo(name="emacs", version="28.2"))
    try:
        uri = open_document(client, "emoji.py", "s = '😀x'\n")
        column_of_x = len("s = '😀")  # 6 characters (7 UTF-16 units)
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(0, column_of_x), types.Position(0, column_of_x + 1)), text="y")]))
        copy = await client.protocol.send_request_async("codefill/document", {"uri": uri})
        assert copy.text == "s = '😀y'\n"
    finally:
        await stop_bridge(client)
