"""Next edits through the bridge, against a scripted codefill server
(fake_codefill.py): the real bridge as a subprocess, a real LSP client.
What POST /v1/next_edit is sent (history, window, UTF-16 cursor, session,
key), the shapes of textDocument/copilotInlineEdit and didShowInlineEdit,
the accept command, and next edits as inline completion items. The live
server is in test_next_edit_e2e.py."""

from __future__ import annotations

import asyncio

import attrs

import pytest
import pytest_asyncio
from lsprotocol import types

from tests.lsp.bridge_helpers import CAPABILITIES, Editor, _plain, inline_params, start_bridge, stop_bridge
from tests.lsp.fake_codefill import FakeCodefill, edits

pytestmark = pytest.mark.asyncio(loop_scope="session")

OPTIONS = {"codefill": {"prewarm": False, "timeoutMs": 20000, "apiKey": "sk-one"}}


@pytest_asyncio.fixture(loop_scope="session")
async def fake():
    server = FakeCodefill()
    yield server
    server.close()


@pytest_asyncio.fixture(loop_scope="session")
async def client(fake):
    client = await start_bridge(fake.url, init_options=OPTIONS)
    yield client
    await stop_bridge(client)


async def inline_edit(client, uri: str, line: int, character: int, version: int = 0) -> dict:
    result = await client.protocol.send_request_async("textDocument/copilotInlineEdit", {
        "textDocument": {"uri": uri, "version": version}, "position": {"line": line, "character": character}})
    return _plain(result)


async def status(client) -> dict:
    return _plain(await client.protocol.send_request_async("codefill/status", {}))


async def test_the_request_carries_the_editors_history_cursor_session_and_key(client, fake):
    other = Editor(client, "util.py", "def helper():\n    return 1\n")
    other.change([(len("def "), len("def helper"), "assist")])
    ed = Editor(client, "main.py", "# 😀 start\ndef area(r):\n    return r * r\n")
    ed.change([(ed.text.index("(r)") + 1, ed.text.index("(r)") + 2, "radius")])
    fake.next_edit = edits(((2, 11), (2, 16), "radius * radius"))
    answer = await inline_edit(client, ed.uri, 1, len("def area(radius"))
    (body,) = fake.bodies()
    (seen,) = fake.requests()
    session = (await status(client))["session"]
    assert body["model"] == "fake-coder" and body["user"] == session and "max_tokens" not in body
    assert seen.headers["X-Session-Id"] == session and seen.headers["Authorization"] == "Bearer sk-one"
    assert body["path"] == "main.py" and body["language"] == "python"
    assert body["text"] == ed.text and body["text_offset"] == 0
    assert body["cursor"] == {"line": 1, "character": len("def area(radius")}
    assert body["history"] == [
        {"path": "util.py", "diff": "--- a/util.py\n+++ b/util.py\n@@ -1,2 +1,2 @@\n-def helper():\n"
                                    "+def assist():\n     return 1\n"},
        {"path": "main.py", "diff": "--- a/main.py\n+++ b/main.py\n@@ -1,3 +1,3 @@\n # 😀 start\n"
                                    "-def area(r):\n+def area(radius):\n     return r * r\n"}]
    assert body["related"] == [{"path": "util.py", "text": other.text}]
    # The answer, in copilot-language-server's shape, for the version asked about.
    assert answer == {"edits": [{
        "text": "radius * radius", "textDocument": {"uri": ed.uri, "version": ed.version},
        "range": {"start": {"line": 2, "character": 11}, "end": {"line": 2, "character": 16}},
        "command": {"title": "Accept next edit", "command": "codefill.didAcceptNextEdit",
                    "arguments": ["nedit-1/0"]}}]}
    assert "codefill.didAcceptNextEdit" in client.initialize_result.capabilities.execute_command_provider.commands


async def test_shown_and_accepted_edits_are_counted(client, fake):
    ed = Editor(client, "count.py", "x = 1\n")
    fake.next_edit = edits(((0, 4), (0, 5), "2"), id="nedit-7")
    (edit,) = (await inline_edit(client, ed.uri, 0, 0))["edits"]
    # copilot-lsp (Neovim) sends only the command; other clients the whole edit.
    client.protocol.notify("textDocument/didShowInlineEdit", {"item": {"command": edit["command"]}})
    client.protocol.notify("textDocument/didShowInlineEdit", {"item": edit})
    await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=edit["command"]["command"], arguments=edit["command"]["arguments"]))
    counts = (await status(client))["nextEdits"]
    assert counts == {"requested": 1, "proposed": 1, "empty": 0, "shown": 2, "accepted": 1,
                      "lastShown": "nedit-7/0"}


async def test_utf8_clients_get_their_columns_and_the_server_utf16(fake):
    caps = attrs.evolve(CAPABILITIES, general=types.GeneralClientCapabilities(
        position_encodings=[types.PositionEncodingKind.Utf8]))
    client = await start_bridge(fake.url, init_options=OPTIONS, capabilities=caps)
    try:
        text = "s = '😀é' + x\n"
        ed = Editor(client, "u8.py", text)
        # The server's columns are UTF-16: the emoji is 2, é 1. It replaces x.
        x16 = len("s = '") + 2 + 1 + len("' + ")
        fake.next_edit = edits(((0, x16), (0, x16 + 1), "y"))
        x8 = len(text[:text.index("x")].encode("utf-8"))
        answer = await inline_edit(client, ed.uri, 0, x8)
        assert fake.bodies()[-1]["cursor"] == {"line": 0, "character": x16}
        assert answer["edits"][0]["range"] == {"start": {"line": 0, "character": x8},
                                               "end": {"line": 0, "character": x8 + 1}}
    finally:
        await stop_bridge(client)


async def test_crlf_documents_are_sent_with_lf_and_edits_come_back_with_crlf(client, fake):
    ed = Editor(client, "win.py", "a = 1\r\nb = 2\r\n")
    fake.next_edit = edits(((1, 0), (1, 0), "c = 3\nd = 4\n"))
    answer = await inline_edit(client, ed.uri, 1, 0)
    assert fake.bodies()[-1]["text"] == "a = 1\nb = 2\n"
    assert answer["edits"][0]["text"] == "c = 3\r\nd = 4\r\n"


async def test_edits_that_do_not_fit_the_document_or_change_nothing_are_left_out(client, fake):
    ed = Editor(client, "fit.py", "x = 1\ny = 2\n")
    fake.next_edit = edits(((0, 0), (0, 1), "x"),          # restates the text
                           ((5, 0), (5, 1), "z"),          # past the last line
                           ((1, 3), (1, 99), "z"),         # past the end of its line
                           ((1, 4), (1, 2), "z"),          # ends before it starts
                           ((1, 4), (1, 5), "3"))
    answer = await inline_edit(client, ed.uri, 0, 0)
    assert [e["text"] for e in answer["edits"]] == ["3"]
    assert (await status(client))["nextEdits"]["proposed"] == 1


async def test_server_errors_give_no_edits_and_one_message(client, fake):
    ed = Editor(client, "bad.py", "x = 1\n")
    fake.next_edit = lambda body: (400, {"error": {"message": "cursor.line 0 is outside text",
                                                   "type": "invalid_request_error", "param": "cursor.line",
                                                   "code": "cursor_out_of_range"}})
    assert (await inline_edit(client, ed.uri, 0, 0)) == {"edits": []}
    assert (await inline_edit(client, ed.uri, 0, 0)) == {"edits": []}
    shown = [m.message for m in client.messages]
    assert len(shown) == 1 and "cursor.line 0 is outside text" in shown[0]
    assert (await status(client))["lastProblem"].endswith("cursor.line 0 is outside text")


async def test_a_refused_history_is_left_out_of_a_second_try(client, fake):
    ed = Editor(client, "retry.py", "x = 1\n")
    ed.change([(4, 5, "2")])
    answer = edits(((0, 0), (0, 1), "y"))
    fake.next_edit = lambda body: (answer(body) if not body["history"] else (400, {"error": {
        "message": "history[0].diff does not apply to text", "type": "invalid_request_error",
        "param": "history[0].diff", "code": "diff_does_not_apply"}}))
    assert [e["text"] for e in (await inline_edit(client, ed.uri, 0, 0))["edits"]] == ["y"]
    assert [len(b["history"]) for b in fake.bodies()] == [1, 0]
    assert not client.messages and any("refused the edit history" in m.message for m in client.log_messages)


async def test_a_newer_request_supersedes_the_older_but_not_a_completion(client, fake):
    ed = Editor(client, "race.py", "x = 1\n")
    fake.next_edit = edits(((0, 4), (0, 5), "2"))
    fake.delay_s = lambda body: 2.0 if body.get("cursor", {}).get("character") == 1 else 0.3
    first = asyncio.create_task(inline_edit(client, ed.uri, 0, 1))
    await asyncio.sleep(0.5)
    completion = asyncio.create_task(client.text_document_inline_completion_async(inline_params(ed.uri, 0, 5)))
    second = await inline_edit(client, ed.uri, 0, 2)
    assert (await first) == {"edits": []} and len(second["edits"]) == 1
    assert (await completion).items[0].insert_text == "done"


async def test_an_edit_on_the_cursors_line_is_a_second_inline_item_when_invoked(client, fake):
    ed = Editor(client, "line.py", "total = price * qty\nprint(total)\n")
    fake.completion_text = " + tax"
    fake.next_edit = edits(((0, 0), (0, 5), "subtotal"), ((1, 6), (1, 11), "subtotal"))
    params = inline_params(ed.uri, 0, len(ed.text.splitlines()[0]))
    automatic = await client.text_document_inline_completion_async(params)
    assert [i.insert_text for i in automatic.items] == [" + tax"] and not fake.bodies()
    params.context.trigger_kind = types.InlineCompletionTriggerKind.Invoked
    invoked = await client.text_document_inline_completion_async(params)
    # The completion first; the edit on the cursor's line widened to reach the cursor.
    assert [i.insert_text for i in invoked.items] == [" + tax", "subtotal = price * qty"]
    assert invoked.items[1].range == types.Range(types.Position(0, 0), types.Position(0, 19))
    # The same version again: the proposal is reused, the server not asked again.
    params.context.trigger_kind = types.InlineCompletionTriggerKind.Automatic
    again = await client.text_document_inline_completion_async(params)
    assert len(again.items) == 2 and len(fake.bodies()) == 1
    # Turned off: completions only.
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"codefill": {"inlineNextEdits": "off"}}))
    assert len((await client.text_document_inline_completion_async(params)).items) == 1


async def test_always_asks_on_every_inline_request_and_drops_a_repeat_of_the_completion(client, fake):
    ed = Editor(client, "same.py", "x = \n")
    fake.completion_text = "1"
    fake.next_edit = edits(((0, 4), (0, 4), "1"))
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"codefill": {"inlineNextEdits": "always", "nextEditMaxTokens": 64}}))
    result = await client.text_document_inline_completion_async(inline_params(ed.uri, 0, 4))
    assert [i.insert_text for i in result.items] == ["1"] and len(fake.bodies()) == 1
    assert fake.bodies()[0]["max_tokens"] == 64


async def test_two_bridges_with_their_own_keys_send_only_their_own_history(fake):
    one = await start_bridge(fake.url, init_options=OPTIONS)
    two = await start_bridge(fake.url, init_options={"codefill": {**OPTIONS["codefill"], "apiKey": "sk-two"}})
    try:
        mine, theirs = Editor(one, "mine.py", "a = 1\n"), Editor(two, "theirs.py", "b = 2\n")
        mine.change([(4, 5, "10")])
        theirs.change([(4, 5, "20")])
        await inline_edit(one, mine.uri, 0, 0)
        await inline_edit(two, theirs.uri, 0, 0)
        by_key = {s.headers["Authorization"]: s.body for s in fake.requests()}
        assert [e["path"] for e in by_key["Bearer sk-one"]["history"]] == ["mine.py"]
        assert [e["path"] for e in by_key["Bearer sk-two"]["history"]] == ["theirs.py"]
        # Another key in the same bridge starts a history of its own.
        one.workspace_did_change_configuration(types.DidChangeConfigurationParams(
            settings={"codefill": {"apiKey": "sk-three"}}))
        await inline_edit(one, mine.uri, 0, 0)
        assert fake.requests()[-1].headers["Authorization"] == "Bearer sk-three"
        assert fake.bodies()[-1]["history"] == []
    finally:
        await stop_bridge(one)
        await stop_bridge(two)


async def test_bridges_that_share_a_session_name_still_send_only_their_own_documents(fake):
    """In-process, so that both bridges can be given one session name."""
    from codefill.lsp.server import create_server
    from codefill.lsp.settings import Settings

    bridges = []
    for key, name in (("sk-a", "a.py"), ("sk-b", "b.py")):
        ls = create_server(Settings(server_url=fake.url, api_key=key, prewarm=False))
        ls.session.id = ls.api.session_id = "codefill-lsp-shared"
        ls.settings_pulled.set()
        uri = f"file:///project/{name}"
        ls.documents.open(types.TextDocumentItem(uri=uri, language_id="python", version=1, text="x = 1\n"))
        ls.documents.change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=f"x = '{key}'\n")]), ls.record_edit)
        bridges.append((ls, uri))
    for ls, uri in bridges:
        await ls.next_edit_at(uri, types.Position(0, 0))
        await ls.api.close()
    a, b = fake.requests()
    assert a.body["user"] == b.body["user"] == "codefill-lsp-shared"
    assert a.headers["Authorization"] == "Bearer sk-a" and "sk-b" not in str(a.body)
    assert b.headers["Authorization"] == "Bearer sk-b" and "sk-a" not in str(b.body)
    assert "+x = 'sk-a'" in a.body["history"][0]["diff"] and "+x = 'sk-b'" in b.body["history"][0]["diff"]
