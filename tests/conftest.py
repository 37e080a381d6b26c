"""Shared fixtures. `live_server` is a real `codefill serve` process with the
real default model on a free loopback port, started once per test session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str  # http://127.0.0.1:PORT
    model: str
    process: subprocess.Popen
    log_path: Path

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(*extra_args: str, name: str = "server", env: dict | None = None, ready_timeout: float = 120,
                 port: int | None = None, python: str | Path | None = None) -> LiveServer:
    """`codefill serve` run by `python` (default: this interpreter; the vLLM tests use .venv-vllm's)."""
    port = port or free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"{name}-{port}.log"
    log_file = open(log_path, "w")
    proc = subprocess.Popen(
        [str(python or sys.executable), "-m", "codefill.cli", "serve", "--port", str(port), *extra_args],
        stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"codefill serve exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            r = httpx.get(url + "/ready", timeout=2)
            if r.status_code == 200:
                return LiveServer(url, r.json()["model"], proc, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"codefill serve was not ready in {ready_timeout}s:\n{log_path.read_text()}")


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def live_server():
    server = start_server(name="live")
    yield server
    stop_server(server)
