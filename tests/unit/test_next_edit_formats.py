"""The next-edit prompt formats render exactly their models' layouts and parse their answers
(server/nextedit/formats/)."""

from __future__ import annotations

import pytest

from codefill.server.nextedit.formats import FORMATS, choose, excerpt, recognise
from codefill.server.nextedit.formats.instinct import SYSTEM, USER_PREFIX
from codefill.server.nextedit.history import parse_event
from codefill.server.nextedit.protocol import HistoryEvent, RelatedFile

LINES = ["def f(a):", "    return a + 1", "", "print(f(1))"]
EDIT = parse_event(HistoryEvent(path="x.py", diff="@@ -1,2 +1,2 @@\n def f(a):\n-    return a\n+    return a + 1\n"), 0)
UTIL = RelatedFile(path="util.py", text="def g():\n    pass\n")


def render(name: str, *, related=(), edits=(EDIT,)):
    x = excerpt(FORMATS[name], path="x.py", lines=LINES, cursor=(1, 5), edits=list(edits), related=list(related),
                text_offset=0, last_edit=EDIT if edits else None)
    return x, FORMATS[name].render(x)


def test_zeta():
    _, prompt = render("zeta")
    assert prompt.text == (
        "### Instruction:\nYou are a code completion assistant and your task is to analyze user edits and then "
        "rewrite an excerpt that the user provides, suggesting the appropriate edits within the excerpt, taking "
        "into account the cursor location.\n\n### User Edits:\n\n"
        'User edited "x.py":\n```diff\n@@ -1,2 +1,2 @@\n def f(a):\n-    return a\n+    return a + 1\n\n```\n\n'
        "### User Excerpt:\n\n```x.py\n<|start_of_file|>\n<|editable_region_start|>\n"
        "def f(a):\n    r<|user_cursor_is_here|>eturn a + 1\n\nprint(f(1))\n<|editable_region_end|>\n```\n\n"
        "### Response:\n")
    assert prompt.prefill == ""


def test_zeta2():
    _, prompt = render("zeta2", related=[UTIL])
    assert prompt.text == (
        "<|file_sep|>util.py\ndef g():\n    pass\n"
        "<|file_sep|>edit history\n--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n def f(a):\n-    return a\n"
        "+    return a + 1\n"
        "<|file_sep|>x.py\n<|fim_prefix|>\n<|fim_middle|>current\n"
        "def f(a):\n    r<|user_cursor|>eturn a + 1\n\nprint(f(1))\n<|fim_suffix|>\n<|fim_middle|>updated\n")


def test_sweep():
    _, prompt = render("sweep", related=[UTIL])
    assert prompt.text == (
        "<|file_sep|>x.py\n\n<|file_sep|>util.py\ndef g():\n    pass\n\n"
        "<|file_sep|>x.py:1:2\noriginal:\n    return a\nupdated:\n    return a + 1\n"
        "<|file_sep|>original/x.py:1:4\ndef f(a):\n    return a\n\nprint(f(1))\n\n"
        "<|file_sep|>current/x.py:1:4\ndef f(a):\n    r<|cursor|>eturn a + 1\n\nprint(f(1))\n\n"
        "<|file_sep|>updated/x.py:1:4\ndef f(a):\n")
    assert prompt.prefill == "def f(a):\n"


def test_sweep_without_history_shows_the_block_cut_at_the_cursors_line_as_original():
    _, prompt = render("sweep", edits=())
    assert "<|file_sep|>original/x.py:1:4\ndef f(a):\n\n<|file_sep|>current/" in prompt.text


def test_instinct():
    _, prompt = render("instinct", related=[UTIL])
    assert prompt.text == (
        f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{USER_PREFIX}\n\n### Context:\n"
        "<|context_file|>: util.py\n<|snippet|>\ndef g():\n    pass\n\n### User Edits:\n\n"
        'User edited file "x.py"\n\n```diff\n@@ -1,2 +1,2 @@\n def f(a):\n-    return a\n+    return a + 1\n```\n\n'
        "### User Excerpt:\nx.py\n\n<|editable_region_start|>\ndef f(a):\n    r<|user_cursor_is_here|>eturn a + 1\n"
        "\nprint(f(1))\n<|editable_region_end|>\n```\n### Response:<|im_end|>\n<|im_start|>assistant\n")


def test_markers_are_special_segments_and_the_users_text_is_not():
    lines = ["x = '<|file_sep|>'"]
    x = excerpt(FORMATS["sweep"], path="x.py", lines=lines, cursor=(0, 0), edits=[], related=[], text_offset=0)
    segments = FORMATS["sweep"].render(x).segments
    assert all(s.text == "<|file_sep|>" or "<|file_sep|>" not in s.text or not s.special for s in segments)
    assert any("x = '<|file_sep|>'" in s.text and not s.special for s in segments)


@pytest.mark.parametrize("name, output, region", [
    ("zeta", "```x.py\n<|editable_region_start|>\ndef g(a):\n    return a<|user_cursor_is_here|>\n"
             "<|editable_region_end|>\n```", "def g(a):\n    return a\n"),
    ("zeta", "I cannot help with that.", None),
    ("zeta2", "def g(a):\n    return a\n<|fim_suffix|>junk", "def g(a):\n    return a\n"),
    ("sweep", "def g(a):\n    return a\n<|file_sep|>other.py", "def g(a):\n    return a\n"),
    ("instinct", "```python\ndef g(a):\n    return a\n```<|im_end|>", "def g(a):\n    return a\n"),
    ("instinct", "def g(a):\n    return a<|im_end|>", "def g(a):\n    return a"),
])
def test_parse_takes_the_rewritten_region(name, output, region):
    assert FORMATS[name].parse(output) == region


def test_the_format_is_recognised_by_the_models_names():
    assert recognise("zeta-2-Q4_K_M.gguf").name == "zeta2"
    assert recognise("/models/zeta.Q8_0.gguf").name == "zeta"
    assert recognise("sweep-next-edit-1.5b.q8_0.gguf").name == "sweep"
    assert recognise("codefill", "/m/instinct-Q4_K_M.gguf").name == "instinct"
    assert recognise("SmolLM2-135M-Instruct.Q4_1.gguf").name == "sweep"  # the default for the rest
    assert choose("zeta", "sweep-next-edit").name == "zeta"
    with pytest.raises(ValueError):
        choose("nope")


def test_the_region_and_context_follow_the_formats_geometry():
    lines = [f"line {i}" for i in range(200)]
    x = excerpt(FORMATS["sweep"], path="x.py", lines=lines, cursor=(100, 0), edits=[], related=[], text_offset=0)
    assert x.region == (90, 111)
    assert x.context[0] <= 90 and x.context[1] >= 111
    moved = excerpt(FORMATS["sweep"], path="x.py", lines=lines, cursor=(101, 0), edits=[], related=[],
                    text_offset=0)
    assert moved.context == x.context  # the context moves in steps: the prompt's start stays cached
