"""CodeFence: a chat model's Markdown fence is taken off; its closing fence ends the code.

Each case is fed whole and one character at a time (helpers.both_ways): streaming must give the same
answer."""

from codefill.server.postprocess.filters import CodeFence
from tests.helpers import both_ways


def test_code_fence_is_removed_and_closing_fence_ends():
    assert both_ways(lambda: [CodeFence()], "```python\nreturn a + b\n```\nSome prose") == "return a + b"
    assert both_ways(lambda: [CodeFence()], "\n```\nx = 1\n```") == "x = 1"


def test_text_without_fence_passes_unchanged():
    assert both_ways(lambda: [CodeFence()], "x = `cmd`\ny = 2") == "x = `cmd`\ny = 2"
    assert both_ways(lambda: [CodeFence()], "``") == "``"


def test_fence_alone_is_nothing():
    assert both_ways(lambda: [CodeFence()], "```") == ""
