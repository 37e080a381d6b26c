"""The codefill server down or slow: the editor gets empty answers at once
and one window/showMessage, not one per keystroke; when the server is back,
completions come back by themselves."""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.lsp.bridge_helpers import inline_at, open_document, start_bridge, stop_bridge
from lsprotocol import types

from tests.helpers import free_port, start_server, stop_server

pytestmark = pytest.mark.asyncio(loop_scope="session")


def shown(client) -> list[str]:
    return [m.message for m in client.messages]


async def test_server_down_then_back_then_slow():
    port = free_port()
    # A long timeout while the server is away and comes back: the first
    # completion of a fresh server can be slow on a busy machine (the deadline too).
    client = await start_bridge(f"http://127.0.0.1:{port}", init_options={"maxTokens": 16, "timeoutMs": 60000,
                                                                          "deadlineMs": 60000})
    server = None
    try:
        # didOpen pre-warms: that first request already finds nobody there.
        uri = open_document(client, "down.py", "def add(a, b):\n    return \n")
        for _ in range(5):
            started = time.monotonic()
            result = await inline_at(client, uri, 1, len("    return "))
            assert not result.items
            assert time.monotonic() - started < 3
        assert len(shown(client)) == 1, shown(client)
        message = client.messages[0]
        assert message.type == types.MessageType.Warning
        assert f"cannot reach the codefill server at http://127.0.0.1:{port}" in message.message
        assert "codefill serve" in message.message
        assert any("cannot reach" in m.message for m in client.log_messages)

        # The server comes up on that address: no restart of the bridge needed.
        server = await asyncio.to_thread(start_server, name="lsp-down", port=port)
        result = await inline_at(client, uri, 1, len("    return "))
        assert len(result.items) == 1
        assert any("answers again" in m.message for m in client.log_messages)
        assert len(shown(client)) == 1

        # Slow: a long uncached prompt with a timeout far below its prefill time.
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
            settings={"codefill": {"timeoutMs": 150}}))
        slow = open_document(client, "slow.py", "".join(f"v{i} = {i * 7919 % 104729}\n" for i in range(300)))
        for _ in range(3):
            started = time.monotonic()
            assert not (await inline_at(client, slow, 300, 0)).items
            assert time.monotonic() - started < 3
        assert len(shown(client)) == 2, shown(client)
        assert "did not answer within 0.15 s" in shown(client)[1]
    finally:
        await stop_bridge(client)
        if server is not None:
            stop_server(server)
