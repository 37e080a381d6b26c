"""Shared fixtures. `live_server` is a real `codefill serve` process with the
real default model on a free loopback port, started once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from codefill.launch import Server, free_port, start_codefill

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"

LiveServer = Server


def start_server(*extra_args: str, name: str = "server", env: dict | None = None, ready_timeout: float = 120,
                 port: int | None = None, python: str | Path | None = None) -> LiveServer:
    """`codefill serve` run by `python` (default: this interpreter; the vLLM tests use .venv-vllm's),
    its log in test-artifacts/NAME-PORT.log; `env` is added to this environment."""
    import os

    port = port or free_port()
    return start_codefill(*extra_args, port=port, label=name, log_path=ARTIFACTS / f"{name}-{port}.log",
                          python=python, env={**os.environ, **(env or {})}, ready_timeout=ready_timeout)


def stop_server(server: LiveServer) -> None:
    server.stop()


@pytest.fixture(scope="session")
def live_server():
    server = start_server(name="live")
    yield server
    stop_server(server)
