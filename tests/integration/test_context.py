"""`input_extra` on the real default model: a function defined only in another
file's snippet is completed right with the snippet and not without it."""

import httpx
import pytest

from tests.helpers import start_server, stop_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server():
    # One thread: on a busy 2-core machine llama.cpp's threads otherwise spin
    # against each other, and a completion can take past the default timeout.
    s = start_server("--threads", "1", "--request-timeout", "600", name="context")
    yield s
    stop_server(s)

# (snippet file, snippet, code before the cursor, the completion's expected start)
CASES = [
    ("strings.py",
     "def reverse_words(sentence: str) -> str:\n"
     "    \"\"\"The sentence with its words in reverse order.\"\"\"\n"
     "    return ' '.join(reversed(sentence.split()))\n",
     "from strings import *\n\ntext = 'hello big world'\nresult = rev", "erse_words(text)"),
    ("mathutils.py",
     "def clamp_value(value, low, high):\n"
     "    \"\"\"value limited to [low, high].\"\"\"\n"
     "    return max(low, min(value, high))\n",
     "from mathutils import *\n\n\ndef brightness(level):\n    return clamp", "_value(level"),
    ("db.py",
     "class UserRepository:\n"
     "    def find_by_email(self, email: str) -> 'User':\n"
     "        return self.rows[email]\n\n"
     "    def save(self, user: 'User') -> None:\n"
     "        self.rows[user.email] = user\n",
     "from db import UserRepository\n\nrepo = UserRepository()\nuser = repo.", "find_by_email("),
]


def _complete(server, prefix: str, extra: list | None, **kw) -> dict:
    body = {"model": server.model, "prompt": prefix, "suffix": "\n", "max_tokens": 16, "temperature": 0,
            "filepath": "main.py", "language": "python", **kw}
    if extra is not None:
        body["input_extra"] = extra
    r = httpx.post(server.url + "/v1/completions", json=body, timeout=600)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("filename, snippet, prefix, expected", CASES, ids=[c[0] for c in CASES])
def test_a_function_only_the_snippet_defines_is_completed_with_it(server, filename, snippet, prefix, expected):
    without = _complete(server, prefix, None)["choices"][0]["text"]
    with_extra = _complete(server, prefix, [{"filename": filename, "text": snippet}])["choices"][0]["text"]
    assert with_extra.startswith(expected), with_extra
    assert not without.startswith(expected), without


def test_the_snippets_stay_in_the_kv_cache_between_keystrokes(server):
    filename, snippet, prefix, _ = CASES[0]
    extra = [{"filename": filename, "text": snippet}, {"filename": "notes.md", "text": "no grammar: left out"}]
    first = _complete(server, prefix, extra, user="context-cache")
    # A character the answer does not begin with (one it does is typed through, without the model).
    second = _complete(server, prefix + "X", extra, user="context-cache")
    # Everything but the newly typed character's token(s) came from the cache.
    cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert cached >= first["usage"]["prompt_tokens"] - 2, (first["usage"], second["usage"])
