"""Next edits end to end: the bridge as a subprocess, a real LSP client, the
live server with the real default model. That model is no next-edit model,
so what is checked is the pipeline: the request carries the edits the
editor made, the server takes it (200, its prompt shows those edits), and
the answer is well formed: edits inside the document, or none."""

from __future__ import annotations

import httpx
import pytest
from lsprotocol import types

from tests.lsp.bridge_helpers import Editor, _plain, answer_to_bridge_request, inline_params

pytestmark = pytest.mark.asyncio(loop_scope="session")

SHAPES = "import math\n\ndef area(r):\n    return math.pi * r * r\n\n\ndef ring(r, width):\n    return area(r) - area(r - width)\n"
CALLER = "from shapes import area\n\nprint(area(2))\n"
# A rewrite of the region is cut short past this (an answer cut short is no
# edit): it keeps the tests' time bounded on a busy CPU.
MAX_TOKENS = 96


def limit_next_edits(bridge) -> None:
    bridge.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"codefill": {"nextEditMaxTokens": MAX_TOKENS}}))


def utf16_length(line: str) -> int:
    return len(line.encode("utf-16-le")) // 2


def assert_inside(range_: dict, text: str) -> None:
    lines = text.split("\n")
    start, end = range_["start"], range_["end"]
    assert (start["line"], start["character"]) <= (end["line"], end["character"])
    for p in (start, end):
        assert 0 <= p["line"] < len(lines) and 0 <= p["character"] <= utf16_length(lines[p["line"]])


async def last_next_edit(bridge) -> dict:
    return _plain(await bridge.protocol.send_request_async("codefill/lastNextEdit", {}))


async def test_copilot_inline_edit_after_real_edits(bridge, live_server):
    limit_next_edits(bridge)
    caller = Editor(bridge, "caller.py", CALLER)
    caller.change([(caller.text.index("(2)") + 1, caller.text.index("(2)") + 2, "3")])
    ed = Editor(bridge, "shapes.py", SHAPES)
    # Rename the parameter, keystroke by keystroke, as a user types it.
    at = ed.text.index("(r)") + 1
    ed.change([(at, at + 1, "")])
    ed.type(at, "radius")
    line = ed.text.count("\n", 0, at)
    result = _plain(await bridge.protocol.send_request_async("textDocument/copilotInlineEdit", {
        "textDocument": {"uri": ed.uri, "version": ed.version},
        "position": {"line": line, "character": len("def area(radius")}}))

    sent = await last_next_edit(bridge)
    assert sent["answer"] is not None, "the server did not answer the next-edit request"
    request = sent["request"]
    assert request["model"] == live_server.model and request["path"] == "shapes.py"
    assert request["max_tokens"] == MAX_TOKENS
    assert request["text"] == ed.text and request["cursor"] == {"line": line, "character": len("def area(radius")}
    # The history: one event per place edited, the keystrokes of the rename in one.
    assert request["history"] == [
        {"path": "caller.py", "diff": "--- a/caller.py\n+++ b/caller.py\n@@ -1,3 +1,3 @@\n from shapes import area\n"
                                      " \n-print(area(2))\n+print(area(3))\n"},
        {"path": "shapes.py", "diff": "--- a/shapes.py\n+++ b/shapes.py\n@@ -1,6 +1,6 @@\n import math\n \n"
                                      "-def area(r):\n+def area(radius):\n     return math.pi * r * r\n \n \n"}]
    # The server read that history: its prompt for the same request shows the edit.
    rendered = httpx.post(live_server.base_url + "/next_edit/render", json=request, timeout=60)
    assert rendered.status_code == 200, rendered.text
    assert rendered.json()["history_shown"] == 2 and "def area(radius):" in rendered.json()["prompt"]

    # Well formed: edits inside the document as it was asked about, or none.
    answer = sent["answer"]
    assert answer["no_edit"] == (not answer["edits"])
    for edit in result["edits"]:
        assert edit["textDocument"] == {"uri": ed.uri, "version": ed.version}
        assert isinstance(edit["text"], str) and edit["command"]["command"] == "codefill.didAcceptNextEdit"
        assert_inside(edit["range"], ed.text)
    # The bridge passes on what the server proposed, less edits that would change nothing.
    assert len(result["edits"]) <= len(answer["edits"])


async def test_inline_completion_invoked_keeps_the_completion_first(bridge, live_server):
    limit_next_edits(bridge)
    ed = Editor(bridge, "inline_ne.py", "def double(x):\n    return x * \n")
    ed.type(len("def double(x):\n    return x * "), "2")
    params = inline_params(ed.uri, 1, len("    return x * 2"))
    params.context.trigger_kind = types.InlineCompletionTriggerKind.Invoked
    result = await bridge.text_document_inline_completion_async(params)
    completion = await answer_to_bridge_request(bridge)
    sent = await last_next_edit(bridge)
    assert sent["request"]["path"] == "inline_ne.py" and sent["answer"] is not None
    items = result.items
    if completion:
        assert items[0].insert_text == completion
        items = items[1:]
    # The rest are next edits on the cursor's line, each reaching the cursor.
    for item in items:
        assert item.range.start.line == item.range.end.line == 1
        assert item.range.start.character <= len("    return x * 2") <= item.range.end.character
