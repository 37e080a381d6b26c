"""What the test modules share, imported by them (pytest's fixtures are in
conftest.py). Test modules import this, never each other.

- `start_server`: a real `codefill serve` on a free loopback port, its log in
  test-artifacts/.
- `make_client` and friends: codefill's app on the scripted engine
  (tests/fakes.py) through FastAPI's TestClient, for fast unit tests.
- `both_ways`: post-processing filters fed whole and one character at a time.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from codefill.launch import Server, free_port, start_codefill
from codefill.server.app import create_app
from codefill.server.postprocess import run_to_end
from codefill.server.postprocess.pipeline import Pipeline
from tests.fakes import FakeEngine

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"

LiveServer = Server

# The model name the scripted engine's app serves.
MODEL = "fake"


def start_server(*extra_args: str, name: str = "server", env: dict | None = None, ready_timeout: float = 120,
                 port: int | None = None, python: str | Path | None = None) -> LiveServer:
    """`codefill serve` run by `python` (default: this interpreter; the vLLM tests use .venv-vllm's),
    its log in test-artifacts/NAME-PORT.log; `env` is added to this environment."""
    port = port or free_port()
    return start_codefill(*extra_args, port=port, label=name, log_path=ARTIFACTS / f"{name}-{port}.log",
                          python=python, env={**os.environ, **(env or {})}, ready_timeout=ready_timeout)


def stop_server(server: LiveServer) -> None:
    server.stop()


def make_client(engine: FakeEngine | None = None, **create_app_kwargs) -> TestClient:
    """codefill's app on `engine` (default: one that answers "x = 1\\ny = 2"), serving MODEL;
    not started yet: use it in a `with` block and `wait_ready` it, or take conftest's `open_client`."""
    create_app_kwargs.setdefault("served_names", [MODEL])
    return TestClient(create_app(engine or FakeEngine("x = 1\ny = 2"), **create_app_kwargs))


def wait_ready(c: TestClient, timeout: float = 5) -> None:
    """Until /ready answers 200 (the engine starts in the app's lifespan)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if c.get("/ready").status_code == 200:
            return
        time.sleep(0.01)
    raise AssertionError("the app was not ready")


@asynccontextmanager
async def in_process(engine: FakeEngine, **create_app_kwargs) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """codefill's app on `engine` with its lifespan running and the engine ready, and an
    httpx.AsyncClient that calls it in-process (ASGI): for tests that need requests in flight
    side by side, or the app itself."""
    create_app_kwargs.setdefault("served_names", [MODEL])
    app = create_app(engine, **create_app_kwargs)
    async with app.router.lifespan_context(app):
        for _ in range(500):
            if engine.ready:
                break
            await asyncio.sleep(0.01)
        assert engine.ready, "the engine did not start"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=10) as c:
            yield app, c


def post(c: TestClient, body: dict, **kw):
    return c.post("/v1/completions", json=body, **kw)


def assert_openai_error(r, status: int, param: str | None = None) -> dict:
    """`r` is an OpenAI-style error with `status`: {"error": {"message", "type", "param", "code"}}."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["message"]
    if param is not None:
        assert body["error"]["param"] == param, body
    return body["error"]


def both_ways(make_filters, text: str) -> str:
    """`text` through fresh filters (`make_filters()` gives one filter or a list), fed whole and
    fed one character at a time: streaming must give the same answer as one piece."""
    def pipeline() -> Pipeline:
        made = make_filters()
        return Pipeline(made if isinstance(made, list) else [made])

    whole = run_to_end(pipeline(), [text])
    chars = run_to_end(pipeline(), list(text))
    assert whole == chars, (whole, chars)
    return whole
