"""The real tabby-agent (npm `tabby-agent` 1.5.0, the language server inside Tabby's editor
plugins) pointed at a live codefill with the real model, its token a codefill API key.

- `tabby-agent --lsp --stdio`, driven by an LSP client (pytest-lsp): a `textDocument/completion`
  is answered with codefill's completion (its id and text).
- tabby-agent's other mode, JSON lines on stdio (the protocol Tabby's JetBrains and Vim plugins
  drive; in 1.5.0 only this mode posts events): a completion, then its `view` and `select` events,
  which reach codefill's acceptance metrics.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from lsprotocol import types
from pytest_lsp.client import make_test_lsp_client

from tests.helpers import ROOT, start_server, stop_server
from tests.extensions.node import ensure_node_modules

pytestmark = pytest.mark.integration

TOKEN = "tabby-agent-token-0123456789"
AGENT = ROOT / "extensions" / "node_modules" / "tabby-agent" / "dist" / "cli.js"
CODE = "def add(a, b):\n    return \n\n\nprint(add(1, 2))\n"
CURSOR = types.Position(line=1, character=11)  # after "return "


@pytest.fixture(scope="module")
def server():
    s = start_server("--api-key", f"tabby={TOKEN}", name="tabby")
    yield s
    stop_server(s)


@pytest.fixture
def agent_home(tmp_path: Path, server) -> Path:
    ensure_node_modules()
    assert AGENT.is_file(), "tabby-agent is not installed: run `npm ci` in extensions/"
    config = tmp_path / ".tabby-client" / "agent" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[server]\nendpoint = "{server.url}"\ntoken = "{TOKEN}"\n\n'
                      '[anonymousUsageTracking]\ndisable = true\n\n[logs]\nlevel = "debug"\n')
    return tmp_path


def agent_env(home: Path) -> dict:
    return {**os.environ, "HOME": str(home), "NO_PROXY": "127.0.0.1,localhost"}


def codefill_answer(server, prefix: str, suffix: str) -> str:
    r = httpx.post(server.url + "/v1/completions", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120,
                   json={"language": "python", "segments": {"prefix": prefix, "suffix": suffix,
                                                            "filepath": "calc.py"}})
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]["text"]


async def test_lsp_completion_is_codefills_answer(server, agent_home):
    cursor = CODE.index("return ") + 7
    codefill_answer(server, CODE[:cursor], CODE[cursor:])  # the KV cache holds the prompt for both answers
    client = make_test_lsp_client()
    # cwd: the agent's log rotation writes an audit.json into its working directory
    await client.start_io("node", str(AGENT), "--lsp", "--stdio", env=agent_env(agent_home), cwd=agent_home)
    try:
        await client.initialize_session(types.InitializeParams(
            capabilities=types.ClientCapabilities(), client_info=types.ClientInfo(name="pytest", version="1"),
            root_uri=agent_home.as_uri()))
        uri = (agent_home / "calc.py").as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=CODE)))
        items = []
        deadline = time.monotonic() + 90
        while not items and time.monotonic() < deadline:  # the agent connects (health check) in the background
            result = await client.text_document_completion_async(types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=CURSOR))
            items = result.items if result else []
            if not items:
                await asyncio.sleep(1)
        assert items, "tabby-agent gave no completion"
        item = items[0]
        assert item.data["completionId"].startswith("cmpl-")  # an id codefill issued
        expected = codefill_answer(server, CODE[:cursor], CODE[cursor:])
        assert expected.strip() and item.text_edit.new_text.strip() == expected.strip()
        metrics = httpx.get(server.url + "/metrics").text
        assert 'codefill_completions_total{dialect="tabby",stream="false"}' in metrics
        await client.shutdown_session()
    finally:
        await client.stop()


class JsonLines:
    """tabby-agent's JSON-lines protocol: `[id, {"func", "args"}]` in, `[id, result]` out."""

    def __init__(self, home: Path) -> None:
        self.proc = subprocess.Popen(["node", str(AGENT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=agent_env(home), cwd=home, text=True)
        self.next_id = 0

    def call(self, func: str, *args, timeout: float = 120):
        self.next_id += 1
        self.proc.stdin.write(json.dumps([self.next_id, {"func": func, "args": list(args)}]) + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            assert line, "tabby-agent exited"
            if not line.startswith("["):  # a library's log line (its log file rotation) on stdout
                continue
            msg_id, result = json.loads(line)
            if msg_id == self.next_id:
                return result
        raise AssertionError(f"no answer to {func}")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def test_agent_events_reach_acceptance_metrics(server, agent_home):
    agent = JsonLines(agent_home)
    try:
        assert agent.call("initialize", {"clientProperties": {"session": {"client": "pytest"}}}) is True
        deadline = time.monotonic() + 60
        while agent.call("getStatus") != "ready":
            assert time.monotonic() < deadline, "tabby-agent never connected to codefill"
            time.sleep(0.5)
        request = {"filepath": str(agent_home / "calc.py"), "language": "python", "text": CODE,
                   "position": CODE.index("return ") + 7, "manually": True}
        completion = agent.call("provideCompletions", request)
        assert completion["id"].startswith("cmpl-") and completion["choices"], completion
        for kind in ("view", "select"):
            event = {"type": kind, "completion_id": completion["id"], "choice_index": 0}
            if kind == "select":
                event["select_kind"] = "line"
            assert agent.call("postEvent", event) is True
    finally:
        agent.close()
    metrics = httpx.get(server.url + "/metrics").text
    assert 'codefill_completion_events_total{event="shown",language="python"} 1.0' in metrics
    assert 'codefill_completion_events_total{event="accepted",language="python"} 1.0' in metrics
    assert 'codefill_completion_acceptance_ratio{language="python"} 1.0' in metrics
