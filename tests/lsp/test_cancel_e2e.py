"""$/cancelRequest, and a newer request superseding an older one, reach the
server: the bridge closes the HTTP request, the server sees the disconnect
(codefill_completions_cancelled_total) and stops working on it."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from tests.lsp.bridge_helpers import inline_at, inline_params, metric, open_document, wait_for
from lsprotocol import types
from pygls.exceptions import JsonRpcException

pytestmark = pytest.mark.asyncio(loop_scope="session")

CANCELLED = "codefill_completions_cancelled_total"
SUPERSEDED = "codefill_completions_superseded_total"
IN_FLIGHT = "codefill_http_requests_in_flight"


def big_uncached_module(lines: int = 150) -> str:
    """~3,500 tokens no earlier request shares: the server needs many seconds
    of prefill for it (300 tokens/s at best on the project's 2-core CPU), long
    enough to cancel it midway."""
    rows = [f"value_{uuid.uuid4().hex[:10]} = compute_{uuid.uuid4().hex[:8]}({i}, '{uuid.uuid4().hex}')\n"
            for i in range(lines)]
    return "".join(rows) + "result = "


async def request_is_at_the_server(server_url: str) -> bool:
    # The /metrics call that asks is itself one request in flight.
    return await wait_for(lambda: metric(server_url, IN_FLIGHT) >= 2, timeout=30)


async def test_cancel_request_stops_the_generation_on_the_server(bridge, live_server):
    text = big_uncached_module()
    uri = open_document(bridge, "big_cancel.py", text)
    before = metric(live_server.url, CANCELLED)
    msg_id = f"cancel-{uuid.uuid4().hex[:8]}"
    pending = asyncio.ensure_future(bridge.protocol.send_request_async(
        types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(uri, 150, len("result = ")), msg_id=msg_id))
    assert await request_is_at_the_server(live_server.url)
    bridge.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))

    with pytest.raises(JsonRpcException) as err:
        await pending
    assert err.value.code == -32800  # RequestCancelled
    # The counter moves when the server sees the client disconnect, which
    # is what makes it stop generating.
    assert await wait_for(lambda: metric(live_server.url, CANCELLED) >= before + 1, timeout=10)


async def test_a_newer_request_supersedes_the_older_one_on_the_server(bridge, live_server):
    big = open_document(bridge, "big_supersede.py", big_uncached_module())
    small = open_document(bridge, "small.py", "def double(x):\n    return ")
    before = metric(live_server.url, CANCELLED) + metric(live_server.url, SUPERSEDED)
    older = asyncio.ensure_future(bridge.protocol.send_request_async(
        types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(big, 150, len("result = "))))
    assert await request_is_at_the_server(live_server.url)

    newer = await inline_at(bridge, small, 1, len("    return "))
    # The older request is answered, empty: for the editor nothing failed.
    assert not (await older).items
    assert len(newer.items) == 1 and newer.items[0].insert_text.strip()
    # The server stopped the older one: either it saw the bridge hang up, or
    # (when the newer request got there first) it superseded it itself.
    assert metric(live_server.url, CANCELLED) + metric(live_server.url, SUPERSEDED) >= before + 1
