"""POST /v1/completions/render: the exact prompt the model would see, through the service's own
prompt building (scripted engine)."""

import pytest

from tests.fakes import FakeEngine
from tests.helpers import assert_openai_error


@pytest.fixture
def client(open_client):
    return open_client(FakeEngine("x"))


def test_render_shows_the_prompt_and_what_was_decided(client):
    prefix = "import os\n\n\ndef f(path):\n    "
    r = client.post("/v1/completions/render",
                    json={"model": "fake", "prompt": prefix, "suffix": "\n", "max_tokens": 32})
    assert r.status_code == 200, r.text
    body = r.json()
    (p,) = body["prompts"]
    # the default family (none) sees the prefix only, without the empty cursor line's indentation
    assert p["text"] == "import os\n\n\ndef f(path):\n"
    assert p["tokens"] == len(p["text"])
    assert p["language"] == "python"  # inferred: the request names none
    assert p["mode"] == "multi_line"
    assert body["max_tokens"] == 32
    assert client.app.state.engine.requests == []  # nothing was generated


def test_render_reports_context_files(client):
    r = client.post("/v1/completions/render", json={
        "model": "fake", "prompt": "import util\nprint(util.helper(", "suffix": ")\n", "filepath": "main.py",
        "input_extra": [{"filename": "util.py", "text": "def helper(a, b):\n    return a * b\n"},
                        {"filename": "notes.txt", "text": "nothing to declare"}]})
    assert r.status_code == 200, r.text
    (p,) = r.json()["prompts"]
    assert p["context_files"] == ["util.py"]
    assert p["context_tokens"] > 0
    assert "def helper(a, b)" in p["text"]


def test_render_errors_are_openai_errors(client):
    assert_openai_error(client.post("/v1/completions/render", json={"model": "nope", "prompt": "x"}), 404, "model")
    assert_openai_error(client.post("/v1/completions/render", json={"model": "fake"}), 400, "prompt")
