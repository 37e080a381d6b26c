"""Fixtures for the LSP bridge: the real bridge (`codefill lsp`) as a
subprocess, driven over stdio by pytest-lsp's client, against the live
codefill server (tests/conftest.py) with the real default model."""

from __future__ import annotations

import pytest_asyncio
from tests.lsp.bridge_helpers import MAX_TOKENS, start_bridge, stop_bridge


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def bridge(live_server):
    """One bridge for the end-to-end tests that can share it. Pre-warm is off
    so that only the tests' own requests reach the server; the timeout is
    long because these tests are about answers, not speed (a shared CI
    machine can be slow), and so is the deadline the server is sent (the
    longest it takes), so that it drops none of them."""
    client = await start_bridge(live_server.url, init_options={"codefill": {
        "prewarm": False, "timeoutMs": 60000, "deadlineMs": 60000, "maxTokens": MAX_TOKENS}})
    yield client
    await stop_bridge(client)

