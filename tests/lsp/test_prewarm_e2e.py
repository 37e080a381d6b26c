"""textDocument/didOpen pre-warms the server's cache: a max_tokens 0 request
with the start of the file, which the first completion in it then reuses."""

from __future__ import annotations

import uuid

import pytest
from tests.lsp.bridge_helpers import inline_at, metric, open_document, wait_for
from lsprotocol import types

pytestmark = pytest.mark.asyncio(loop_scope="session")

PROMPT_TOKENS = "codefill_prompt_tokens_total"
CACHED_TOKENS = "codefill_prompt_tokens_cached_total"
COMPLETIONS = ("codefill_http_requests_total", 'endpoint="/v1/completions"')


def set_prewarm(bridge, on: bool) -> None:
    bridge.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"codefill": {"prewarm": on}}))


async def test_did_open_warms_the_cache_the_first_completion_uses(bridge, live_server):
    url = live_server.url
    set_prewarm(bridge, True)
    try:
        # A first line no earlier prompt shares, so that any reuse is the warm-up's.
        # Small, because a busy 2-core CPU can prefill as slowly as 40 tokens/s.
        text = f"# {uuid.uuid4().hex}\n" + "".join(f"total_{i} = {i}\n" for i in range(1, 40))
        requests, prompt = metric(url, *COMPLETIONS), metric(url, PROMPT_TOKENS)
        uri = open_document(bridge, "warm.py", text)
        # Nothing asked for a completion, yet the server evaluates a prompt.
        assert await wait_for(lambda: metric(url, PROMPT_TOKENS) > prompt, timeout=60)
        assert metric(url, *COMPLETIONS) == requests + 1
        warmed = metric(url, PROMPT_TOKENS) - prompt
        assert warmed > 200  # the whole file

        cached = metric(url, CACHED_TOKENS)
        await inline_at(bridge, uri, 20, 0)
        reused = metric(url, CACHED_TOKENS) - cached
        # Lines 0-19 of the 40 warmed: about half of the warm prompt is reused.
        assert reused > 0.4 * warmed
    finally:
        set_prewarm(bridge, False)


async def test_no_prewarm_when_turned_off(bridge, live_server):
    requests = metric(live_server.url, *COMPLETIONS)
    open_document(bridge, "cold.py", "x = 1\n" * 50)
    await bridge.protocol.send_request_async("codefill/document", {"uri": "file:///project/cold.py"})
    assert metric(live_server.url, *COMPLETIONS) == requests
