"""The transport: on stdio, stdout carries LSP messages and nothing else
(logs go to stderr and window/logMessage); `--tcp` serves the same protocol
on a socket for debugging."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

import pytest
from tests.lsp.bridge_helpers import CAPABILITIES
from lsprotocol import types
from pytest_lsp.client import make_test_lsp_client

from tests.helpers import free_port


class FramedPipe:
    """Reads LSP messages off the bridge's stdout and fails on any byte that
    is not part of one."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.messages: list[dict] = []

    def read_message(self) -> dict | None:
        headers = {}
        while True:
            line = self.stream.readline()
            if line == b"":
                assert not headers, "stdout ended inside a message header"
                return None
            if line == b"\r\n":
                break
            name, sep, value = line.decode("ascii").partition(":")
            assert sep and line.endswith(b"\r\n") and name in ("Content-Length", "Content-Type"), \
                f"not an LSP header on stdout: {line!r}"
            headers[name] = value.strip()
        body = self.stream.read(int(headers["Content-Length"]))
        message = json.loads(body)
        assert message.get("jsonrpc") == "2.0"
        self.messages.append(message)
        return message

    def read_until_response(self, msg_id: int) -> dict:
        while (message := self.read_message()) is not None:
            if message.get("id") == msg_id and "method" not in message:
                return message
        raise AssertionError(f"stdout ended before the response to {msg_id}")


def send(proc, message: dict) -> None:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    proc.stdin.flush()


def test_stdout_carries_only_protocol_and_logs_go_to_stderr():
    dead = f"http://127.0.0.1:{free_port()}"  # nobody listens: the bridge has warnings to log
    proc = subprocess.Popen([sys.executable, "-m", "codefill.cli", "lsp", "--server-url", dead],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        pipe = FramedPipe(proc.stdout)
        send(proc, {"id": 1, "method": "initialize", "params": {"processId": None, "rootUri": None,
                                                                "capabilities": {}}})
        assert "capabilities" in pipe.read_until_response(1)["result"]
        send(proc, {"method": "initialized", "params": {}})
        send(proc, {"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": "file:///project/a.py", "languageId": "python", "version": 1, "text": "x = \n"}}})
        send(proc, {"id": 2, "method": "textDocument/inlineCompletion", "params": {
            "textDocument": {"uri": "file:///project/a.py"}, "position": {"line": 0, "character": 4},
            "context": {"triggerKind": 2}}})
        assert pipe.read_until_response(2)["result"] == {"items": []}
        send(proc, {"id": 3, "method": "shutdown"})
        pipe.read_until_response(3)
        send(proc, {"method": "exit"})
        while pipe.read_message() is not None:
            pass
        assert proc.wait(20) == 0
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait()
    stderr = proc.stderr.read().decode()
    methods = [m.get("method") for m in pipe.messages]
    assert methods.count("window/showMessage") == 1
    assert "window/logMessage" in methods
    assert "codefill LSP bridge" in stderr and f"cannot reach the codefill server at {dead}" in stderr


@pytest.mark.asyncio(loop_scope="session")
async def test_tcp_mode_for_debugging():
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "codefill.cli", "lsp", "--tcp", "--port", str(port),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    client = make_test_lsp_client()
    try:
        for _ in range(100):
            try:
                await client.start_tcp("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        result = await client.initialize_session(types.InitializeParams(capabilities=CAPABILITIES))
        assert result.capabilities.inline_completion_provider is not None
        await client.shutdown_session()
    finally:
        await client.stop()
        proc.kill()
        await proc.wait()


def test_a_bad_server_url_flag_is_refused_before_starting():
    proc = subprocess.run([sys.executable, "-m", "codefill.cli", "lsp", "--server-url", "localhost:8000"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "must be an http:// or https:// URL" in proc.stderr
    assert proc.stdout == ""
