"""textDocument/inlineCompletion and textDocument/completion end to end: the
bridge as a subprocess, a real LSP client over stdio, the live server with
the real default model."""

from __future__ import annotations

import pytest
from tests.lsp.bridge_helpers import MAX_TOKENS, answer_to_bridge_request, inline_at, inline_params, metric, open_document
from lsprotocol import types

pytestmark = pytest.mark.asyncio(loop_scope="session")

CODE = "import math\n\ndef area(radius):\n    return \n\n\nprint(area(2.0))\n"
CURSOR = (3, len("    return "))
PREFIX = "import math\n\ndef area(radius):\n    return "
SUFFIX = "\n\n\nprint(area(2.0))\n"


async def test_capabilities(bridge):
    caps = bridge.initialize_result.capabilities
    assert caps.inline_completion_provider is not None
    assert caps.completion_provider is not None and "." in caps.completion_provider.trigger_characters
    sync = caps.text_document_sync
    assert sync.change == types.TextDocumentSyncKind.Incremental and sync.open_close
    assert bridge.initialize_result.server_info.name == "codefill"


async def test_inline_completion_is_the_servers_completion_at_the_cursor(bridge, live_server):
    uri = open_document(bridge, "area.py", CODE)
    result = await inline_at(bridge, uri, *CURSOR)
    expected = await answer_to_bridge_request(bridge, prefix=PREFIX, suffix=SUFFIX)
    assert expected.strip(), "the model should continue `return` with something"
    assert isinstance(result, types.InlineCompletionList) and len(result.items) == 1
    item = result.items[0]
    assert item.insert_text == expected
    assert item.range == types.Range(types.Position(*CURSOR), types.Position(*CURSOR))


async def test_mid_line_item_replaces_the_rest_of_the_line_with_completion_plus_rest(bridge, live_server):
    code = "def total(prices):\n    return sum(\n"
    uri = open_document(bridge, "total.py", code.replace("sum(\n", "sum()\n"))
    result = await inline_at(bridge, uri, 1, len("    return sum("))
    expected = await answer_to_bridge_request(bridge, prefix="def total(prices):\n    return sum(",
                                              suffix=")\n")
    if not expected:
        pytest.skip("the model had nothing to say here")
    item = result.items[0]
    assert item.insert_text == expected + ")"
    assert item.range == types.Range(types.Position(1, 15), types.Position(1, 16))


async def test_completion_item_for_clients_without_inline_completion(bridge, live_server):
    code = "def greet(name):\n    message = f'Hello, {name}'\n    ret\n"
    uri = open_document(bridge, "greet.py", code)
    result = await bridge.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(2, 7)))
    expected = await answer_to_bridge_request(bridge, prefix=code[: code.index("ret\n") + 3], suffix="\n")
    assert isinstance(result, types.CompletionList) and result.is_incomplete
    assert len(result.items) == 1
    item = result.items[0]
    # The edit starts at the word being typed and puts it back in front.
    assert item.text_edit.range == types.Range(types.Position(2, 4), types.Position(2, 7))
    assert item.text_edit.new_text == "ret" + expected
    assert item.filter_text.startswith("ret")
    assert item.label.startswith("ret")


async def test_a_language_that_is_turned_off_gets_nothing_and_costs_nothing(bridge, live_server):
    uri = open_document(bridge, "notes.md", "# Notes\n\nThe plan is to ", "markdown")
    bridge.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"codefill": {"languages": ["python"]}}))
    before = metric(live_server.url, "codefill_http_requests_total")
    result = await inline_at(bridge, uri, 2, len("The plan is to "))
    assert not result.items
    assert metric(live_server.url, "codefill_http_requests_total") == before + 1  # just the /metrics call
    bridge.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"codefill": {"languages": ["*"]}}))
    result = await inline_at(bridge, uri, 2, len("The plan is to "))
    assert metric(live_server.url, "codefill_http_requests_total") > before + 2


async def test_a_document_that_was_never_opened_gets_an_empty_answer(bridge):
    result = await inline_at(bridge, "file:///project/never-opened.py", 0, 0)
    assert not result.items


async def test_inline_completion_extends_the_selected_menu_item(bridge, live_server):
    # The user typed "ra", the editor's menu has "radius" selected: the ghost
    # text must start with "radius" and continue from it.
    code = "import math\n\ndef area(radius):\n    return math.pi * ra\n"
    uri = open_document(bridge, "selected.py", code)
    params = inline_params(uri, 3, len("    return math.pi * ra"))
    params.context.selected_completion_info = types.SelectedCompletionInfo(
        range=types.Range(types.Position(3, len("    return math.pi * ")), types.Position(3, 23)), text="radius")
    result = await bridge.text_document_inline_completion_async(params)
    expected = await answer_to_bridge_request(
        bridge, prefix="import math\n\ndef area(radius):\n    return math.pi * radius", suffix="\n")
    if not expected:
        pytest.skip("the model had nothing to add after `radius`")
    item = result.items[0]
    assert item.insert_text == "radius" + expected
    assert item.range == types.Range(types.Position(3, len("    return math.pi * ")), types.Position(3, 23))


async def test_mode_and_max_tokens_settings_reach_the_server(bridge, live_server):
    code = "def fibonacci(n):\n\n\nprint(fibonacci(10))\n"
    uri = open_document(bridge, "fib.py", code)
    prefix, suffix = "def fibonacci(n):\n", "\n\nprint(fibonacci(10))\n"

    def configure(**codefill):
        bridge.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"codefill": codefill}))

    try:
        answers = {}
        for mode, max_tokens in (("multi_line", 48), ("single_line", 48), ("multi_line", 3)):
            configure(mode=mode, maxTokens=max_tokens)
            result = await inline_at(bridge, uri, 1, 0)
            expected = await answer_to_bridge_request(bridge, prefix=prefix, suffix=suffix)
            assert [i.insert_text for i in result.items] == ([expected] if expected else [])
            answers[mode, max_tokens] = expected
        if "\n" not in answers["multi_line", 48].strip():
            pytest.skip("the model answered one line even in multi_line mode")
        assert "\n" not in answers["single_line", 48].strip()
        assert len(answers["multi_line", 3]) < len(answers["multi_line", 48])
    finally:
        configure(mode="auto", maxTokens=MAX_TOKENS)
