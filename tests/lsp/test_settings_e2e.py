"""Settings reach the bridge from initializationOptions, from
workspace/configuration (pulled after `initialized`, and again when
didChangeConfiguration carries no settings) and from didChangeConfiguration.

The bridge points at an address where nothing listens: a completion request
that reaches the HTTP layer shows the "cannot reach" message, one that the
settings stop shows nothing."""

from __future__ import annotations

import pytest
from tests.lsp.bridge_helpers import inline_at, open_document, start_bridge, stop_bridge
from lsprotocol import types

from tests.helpers import free_port

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_settings_are_pulled_and_pushed():
    dead = f"http://127.0.0.1:{free_port()}"
    client = await start_bridge("http://127.0.0.1:9", init_options={"serverUrl": dead, "prewarm": False},
                                configuration={"codefill": {"languages": ["rust"]}})
    try:
        py = open_document(client, "a.py", "x = \n")
        rs = open_document(client, "a.rs", "let x = \n", "rust")
        # Pulled after `initialized`: only rust is on.
        assert not (await inline_at(client, py, 0, 4)).items
        assert client.messages == []
        assert not (await inline_at(client, rs, 0, 8)).items
        assert len(client.messages) == 1 and dead in client.messages[0].message  # from initializationOptions

        # "Something changed", no settings: the bridge asks again.
        client.set_configuration({"codefill": {"languages": ["*"], "serverUrl": "http://127.0.0.1:1"}})
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
        await client.protocol.send_request_async("codefill/document", {"uri": py})  # a round trip
        assert not (await inline_at(client, py, 0, 4)).items
        assert len(client.messages) == 2 and "http://127.0.0.1:1" in client.messages[1].message

        # Pushed settings with a bad value: reported, the rest applied.
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
            settings={"codefill": {"maxTokens": "many", "languages": ["go"]}}))
        assert not (await inline_at(client, py, 0, 4)).items
        assert len(client.messages) == 3 and "maxTokens" in client.messages[2].message
    finally:
        await stop_bridge(client)


async def test_workspace_folder_changes_move_the_relative_paths():
    dead = f"http://127.0.0.1:{free_port()}"
    client = await start_bridge(dead, init_options={"prewarm": False})
    try:
        client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[types.WorkspaceFolder(uri="file:///project/sub", name="sub")],
                removed=[types.WorkspaceFolder(uri="file:///project", name="project")])))
        uri = open_document(client, "sub/pkg/mod.py", "x = 1\n")
        assert (await client.protocol.send_request_async("codefill/document", {"uri": uri})).text == "x = 1\n"
        roots = await client.protocol.send_request_async("codefill/status", None)
        assert list(roots.workspaceFolders) == ["file:///project/sub"]
    finally:
        await stop_bridge(client)
