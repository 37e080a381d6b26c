"""Shared fixtures (helpers that test modules import are in tests/helpers.py).

- `live_server`: a real `codefill serve` with the real default model on a free
  loopback port, started once per test session.
- `open_client`, `client`: codefill's app on the scripted engine, started and ready.
- `hub`: a Hugging Face hub on loopback (tests/hf_hub.py).
"""

from __future__ import annotations

import pytest

from tests.hf_hub import hub_on_loopback
from tests.helpers import make_client, start_server, stop_server, wait_ready


@pytest.fixture(scope="session")
def live_server():
    server = start_server(name="live")
    yield server
    stop_server(server)


@pytest.fixture
def open_client():
    """A factory: `open_client(engine=None, **create_app_kwargs)` is a started, ready TestClient
    (see helpers.make_client); every one it made is closed after the test."""
    opened = []

    def open_(engine=None, **create_app_kwargs):
        c = make_client(engine, **create_app_kwargs)
        c.__enter__()
        opened.append(c)
        wait_ready(c)
        return c

    yield open_
    for c in reversed(opened):
        c.__exit__(None, None, None)


@pytest.fixture
def client(open_client):
    """The app on an engine that answers "x = 1\\ny = 2", serving the model `fake`."""
    return open_client()


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A Hugging Face hub on loopback serving `tests.hf_hub.Hub.files`, huggingface_hub's cache
    in tmp_path: the hub's URL (pass it as `endpoint`)."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with hub_on_loopback() as url:
        yield url
