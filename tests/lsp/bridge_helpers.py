"""Helpers for the LSP bridge tests: start the real bridge (`codefill lsp`) as a
subprocess driven over stdio by pytest-lsp's client; documents; server metrics."""

from __future__ import annotations

import asyncio
import re
import sys
import time

import httpx
from lsprotocol import types
from pytest_lsp import LanguageClient
from pytest_lsp.client import make_test_lsp_client

ROOT_URI = "file:///project"
# Short answers keep the end-to-end tests quick on a busy CPU.
MAX_TOKENS = 48

CAPABILITIES = types.ClientCapabilities(
    general=types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf16]),
    workspace=types.WorkspaceClientCapabilities(configuration=True),
    text_document=types.TextDocumentClientCapabilities(
        synchronization=types.TextDocumentSyncClientCapabilities(),
        completion=types.CompletionClientCapabilities(),
        inline_completion=types.InlineCompletionClientCapabilities(),
    ),
    window=types.WindowClientCapabilities(),
)


async def start_bridge(server_url: str, *, init_options: dict | None = None,
                       capabilities: types.ClientCapabilities = CAPABILITIES,
                       configuration: dict | None = None,
                       client_info: types.ClientInfo = types.ClientInfo(name="codefill-tests", version="1"),
                       ) -> LanguageClient:
    client = make_test_lsp_client()
    if configuration is not None:
        client.set_configuration(configuration)
    await client.start_io(sys.executable, "-m", "codefill.cli", "lsp", "--server-url", server_url,
                          "--log-level", "debug")
    client.initialize_result = await client.initialize_session(types.InitializeParams(
        capabilities=capabilities,
        client_info=client_info,
        initialization_options=init_options,
        workspace_folders=[types.WorkspaceFolder(uri=ROOT_URI, name="project")],
        root_uri=ROOT_URI,
    ))
    return client


async def stop_bridge(client: LanguageClient) -> None:
    await client.shutdown_session()
    await client.stop()


def open_document(client: LanguageClient, name: str, text: str, language: str = "python") -> str:
    uri = f"{ROOT_URI}/{name}"
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)))
    return uri


def close_document(client: LanguageClient, uri: str) -> None:
    client.text_document_did_close(types.DidCloseTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))


def inline_params(uri: str, line: int, character: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
    )


async def inline_at(client: LanguageClient, uri: str, line: int, character: int):
    return await client.text_document_inline_completion_async(inline_params(uri, line, character))


def server_completion(server, prefix: str, suffix: str, max_tokens: int = MAX_TOKENS, mode: str = "auto") -> str:
    """What the server answers for this prefix and suffix, asked directly."""
    r = httpx.post(server.base_url + "/completions", timeout=60, json={
        "model": server.model, "prompt": prefix, "suffix": suffix, "max_tokens": max_tokens, "mode": mode})
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]["text"]


def _plain(value):
    """pygls hands custom results back as named tuples: back to JSON's dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


async def answer_to_bridge_request(bridge, *, prefix: str | None = None, suffix: str | None = None) -> str:
    """What the server answered the very request the bridge sent last (its
    prompt, suffix, language, file path and other files' context), before the
    bridge fitted it to the editor; `prefix`/`suffix`, when given, must be the
    window the bridge sent.

    The bridge's own record of the answer, not the same body asked again: a
    batching engine's numerics depend on what else shares the step and what
    the cache held, so a repeat can tip a near-tie to another answer."""
    body = await bridge.protocol.send_request_async("codefill/lastRequest", {})
    assert body is not None, "the bridge sent no completion request"
    body = _plain(body)
    if prefix is not None:
        assert body["prompt"] == prefix
    if suffix is not None:
        assert body["suffix"] == suffix
    answer = await bridge.protocol.send_request_async("codefill/lastAnswer", {})
    assert answer is not None, "the server did not answer the bridge's request"
    return answer


def metric(server_url: str, name: str, labels: str = "") -> float:
    """A counter or gauge from the server's /metrics, summed over the label
    sets that contain `labels` (0 when not there yet)."""
    text = httpx.get(server_url + "/metrics", timeout=10).text
    total = 0.0
    for m in re.finditer(rf"^{re.escape(name)}(?:{{([^}}]*)}})? (\S+)$", text, re.M):
        if labels in (m.group(1) or ""):
            total += float(m.group(2))
    return total


async def wait_for(condition, timeout: float = 30, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(condition):
            return True
        await asyncio.sleep(interval)
    return False


def lsp_position(text: str, offset: int, encoding: str = types.PositionEncodingKind.Utf16) -> types.Position:
    """The LSP position of `offset` in `text`, worked out the simple way,
    independently of the bridge: count LSP line breaks before it, measure the
    rest in the encoding (UTF-16 by default)."""
    before = text[:offset]
    breaks = list(re.finditer(r"\r\n|\r|\n", before))
    # An offset between "\r" and "\n" is not a position a client can send.
    assert not (before.endswith("\r") and text[offset:offset + 1] == "\n")
    column = before[breaks[-1].end():] if breaks else before
    size = {types.PositionEncodingKind.Utf8: len(column.encode("utf-8")),
            types.PositionEncodingKind.Utf16: len(column.encode("utf-16-le")) // 2,
            types.PositionEncodingKind.Utf32: len(column)}[encoding]
    return types.Position(line=len(breaks), character=size)


class Editor:
    """The client side of an editing session: keeps the text as an editor
    would and sends each edit as an incremental didChange."""

    def __init__(self, client: LanguageClient, name: str, text: str, language: str = "python") -> None:
        self.client, self.text, self.version = client, text, 1
        self.uri = open_document(client, name, text, language)

    def change(self, edits: list[tuple[int, int, str]]) -> None:
        """One didChange with these (start, end, new text) edits, applied in order."""
        changes = []
        for start, end, new in edits:
            changes.append(types.TextDocumentContentChangePartial(
                range=types.Range(lsp_position(self.text, start), lsp_position(self.text, end)), text=new))
            self.text = self.text[:start] + new + self.text[end:]
        self.version += 1
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
            content_changes=changes))

    def type(self, offset: int, text: str) -> int:
        for ch in text:
            self.change([(offset, offset, ch)])
            offset += len(ch)
        return offset

    def replace_all(self, text: str) -> None:
        self.text = text
        self.version += 1
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))

    async def bridge_copy(self):
        return await self.client.protocol.send_request_async("codefill/document", {"uri": self.uri})
