"""The bridge's `deadlineMs`: how long the editor waits for ghost text, sent
as `deadline_ms` on every completion (not on a pre-warm), left out at 0; and a
server's 503 `deadline_exceeded` is "no suggestion", said to nobody but the
debug log. Against a scripted server (fake_codefill.py); the live server gets
deadline_ms in every end-to-end test (conftest.py)."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio
from lsprotocol import types

from tests.lsp.bridge_helpers import _plain, inline_at, open_document, start_bridge, stop_bridge
from tests.lsp.fake_codefill import FakeCodefill

pytestmark = pytest.mark.asyncio(loop_scope="session")

DEADLINE_EXCEEDED = (503, {"error": {
    "message": "this completion could not finish before its deadline (deadline_ms) and was dropped early",
    "type": "service_unavailable", "param": "deadline_ms", "code": "deadline_exceeded"}})


@pytest_asyncio.fixture(loop_scope="session")
async def fake():
    server = FakeCodefill()
    yield server
    server.close()


async def completion_bodies(fake: FakeCodefill, count: int) -> list[dict]:
    """The completion bodies once `count` have arrived (a pre-warm is sent in the background)."""
    for _ in range(200):
        bodies = fake.bodies("/v1/completions")
        if len(bodies) >= count:
            return bodies
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(fake.bodies('/v1/completions'))} completion requests, expected {count}")


async def test_default_then_configured_then_zero(fake):
    client = await start_bridge(fake.url, init_options={"codefill": {"timeoutMs": 20000}})
    try:
        uri = open_document(client, "d.py", "def f():\n    return \n")  # pre-warms: no deadline
        warm = (await completion_bodies(fake, 1))[0]
        assert warm["max_tokens"] == 0 and "deadline_ms" not in warm
        assert (await inline_at(client, uri, 1, len("    return "))).items
        assert fake.bodies("/v1/completions")[-1]["deadline_ms"] == 1500
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
            settings={"codefill": {"deadlineMs": 400}}))
        await inline_at(client, uri, 1, len("    return "))
        assert fake.bodies("/v1/completions")[-1]["deadline_ms"] == 400
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
            settings={"codefill": {"deadlineMs": 0}}))
        await inline_at(client, uri, 1, len("    return "))
        assert "deadline_ms" not in fake.bodies("/v1/completions")[-1]
        assert not client.messages
    finally:
        await stop_bridge(client)


async def test_initialization_options_set_it(fake):
    client = await start_bridge(fake.url, init_options={"codefill": {"prewarm": False, "deadline_ms": 2500}})
    try:
        uri = open_document(client, "i.py", "x = \n")
        await inline_at(client, uri, 0, len("x = "))
        assert [b["deadline_ms"] for b in fake.bodies("/v1/completions")] == [2500]
    finally:
        await stop_bridge(client)


async def test_a_dropped_request_shows_nothing_and_is_not_asked_again(fake):
    fake.completion = lambda body: DEADLINE_EXCEEDED
    client = await start_bridge(fake.url, init_options={"codefill": {"prewarm": False}})
    try:
        uri = open_document(client, "late.py", "def f():\n    return \n")
        assert not (await inline_at(client, uri, 1, len("    return "))).items
        result = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=1, character=11)))
        assert result is None or not result.items
        assert len(fake.bodies("/v1/completions")) == 2  # one request per ask: no retries
        assert not client.messages  # no window/showMessage
        # Logged at debug level only (the bridge runs with --log-level debug here).
        await asyncio.sleep(0.1)
        logged = [m for m in client.log_messages if "could not finish" in m.message]
        assert logged and all(m.type == types.MessageType.Log for m in logged), logged
        # The server is healthy: a later answer in time is shown as usual.
        fake.completion = None
        assert (await inline_at(client, uri, 1, len("    return "))).items
        assert not client.messages
    finally:
        fake.completion = None
        await stop_bridge(client)


async def test_the_live_server_takes_the_deadline_and_answers(bridge):
    """The real server (tests/conftest.py), through the shared bridge, whose
    deadlineMs is the longest the server takes (conftest.py)."""
    uri = open_document(bridge, "deadline_live.py", "import os\n\nfiles = os.\n")
    result = await inline_at(bridge, uri, 2, len("files = os."))
    sent = _plain(await bridge.protocol.send_request_async("codefill/lastRequest", {}))
    assert sent["deadline_ms"] == 60000 and sent["prompt"].endswith("files = os.")
    # Answered (200): a refusal would have left no answer and an empty result.
    assert await bridge.protocol.send_request_async("codefill/lastAnswer", {}) is not None
    assert result is not None and len(result.items) == 1
