"""Post-processing on the real default model's own output, through a live server.

For each case the model's raw output is asked for first (`mode: raw`, the
prompt exactly as the server shows it to the model in `auto` mode), so the
test can show that the model really wrote what the filter is there for; then
the editor's request (streamed, with `language`) must give what the pipeline
makes of that raw output, and the property the filter promises."""

from __future__ import annotations

import uuid

import openai
import pytest

from codefill.server.languages import detect_language
from codefill.server.postprocess import plan, run_to_end
from codefill.server.postprocess.lexer import syntax_errors
from codefill.server.prompt.fitting import model_prefix

pytestmark = pytest.mark.integration
MAX_TOKENS = 32


@pytest.fixture(scope="module")
def client(live_server):
    return openai.OpenAI(base_url=live_server.base_url, api_key="not-needed", max_retries=0, timeout=300)


def raw_and_edited(client, model, prefix, suffix, language):
    """(the model's raw text for the prompt it sees, the streamed editor answer).

    Each request has a cache salt of its own, so both compute the whole prompt in one step: the second
    reusing the first's KV cells computed only its last tokens, in another batch shape, and llama.cpp's
    sums in another order can turn a greedy near-tie (seen in CI: the answer ended after its first line
    where the raw text went on)."""
    raw = client.completions.create(model=model, prompt=model_prefix(prefix), max_tokens=MAX_TOKENS,
                                    temperature=0, extra_body={"mode": "raw", "cache_salt": uuid.uuid4().hex}
                                    ).choices[0].text
    chunks = client.completions.create(model=model, prompt=prefix, suffix=suffix, max_tokens=MAX_TOKENS,
                                       temperature=0, stream=True,
                                       extra_body={"language": language, "cache_salt": uuid.uuid4().hex})
    edited = "".join(c.choices[0].text for c in chunks if c.choices)
    # The server's answer is the pipeline's work on the model's raw text (as far as the tokens went).
    lang = detect_language(language, None)
    assert edited == run_to_end(plan(prefix, suffix, language=lang).pipeline, [raw]), (raw, edited)
    return raw, edited


BLOCKS = [  # (prefix, suffix): an empty `if` body in JavaScript
    ("function clamp(x, lo, hi) {\n  if (x < lo) {\n    ", "\n  }\n  return x;\n}\n"),
    ("function max(a, b) {\n  if (a > b) {\n    ", "\n  }\n  return b;\n}\n"),
]


def test_multi_line_ends_where_the_block_ends(client, live_server):
    # Which of these the model answers with a body depends on its weights (Q4_1 as
    # shipped, or what `models prepare` chose); each answer must end with the block.
    bodies = 0
    for prefix, suffix in BLOCKS:
        raw, edited = raw_and_edited(client, live_server.model, prefix, suffix, "javascript")
        assert "}" not in edited  # the block's body only: the suffix closes it
        assert edited == edited.strip()
        if edited and "}" in raw and len(raw.strip().splitlines()) > 1:  # the model ran on past the block
            bodies += 1
    assert bodies >= 1


def test_closing_brackets_the_editor_inserted_are_not_repeated(client, live_server):
    prefix, suffix = "values = [1, 2, 3]\nprint(sum(", "))\n"
    raw, edited = raw_and_edited(client, live_server.model, prefix, suffix, "python")
    first_line = raw.split("\n", 1)[0]
    assert first_line.count(")") > first_line.count("(")  # the model closes what the suffix closes
    assert edited and "\n" not in edited
    assert edited.count("(") == edited.count(")")  # prefix + edited + suffix is balanced


def test_a_js_call_argument_is_not_closed_twice(client, live_server):
    prefix, suffix = "const name = 'x';\nconsole.log(", ");\n"
    raw, edited = raw_and_edited(client, live_server.model, prefix, suffix, "javascript")
    assert ")" in raw.split("\n", 1)[0]
    assert edited and ";" not in edited
    # Whatever the model writes inside the call (e.g. `new MyClass({name: 'y'})`), it does not close
    # the call the suffix closes: prefix + answer + suffix stays balanced.
    assert edited.count(")") == edited.count("("), edited


def test_prose_in_place_of_a_body_is_not_offered(client, live_server):
    # Shown `def add(a, b):` and no indentation, the model explains instead of coding.
    prefix, suffix = "def add(a, b):\n    ", "\n\nprint(add(1, 2))\n"
    raw, edited = raw_and_edited(client, live_server.model, prefix, suffix, "python")
    first = next(ln for ln in raw.split("\n") if ln.strip() and not ln.startswith("```"))
    assert syntax_errors("python", prefix + first + suffix) > 0  # what the model wrote is no Python
    assert syntax_errors("python", prefix + edited + suffix) == 0  # what the editor gets is


def test_a_list_item_the_model_writes_again_and_again_is_offered_once_and_stops_the_model(client, live_server):
    """At http/client.py's `__all__`, the default model writes `"UnimplementedSockets", ` over and over.
    With InlineLoop the answer holds it once and the model stops there (fewer tokens generated); a server
    with the filter off shows what the model wrote."""
    from codefill.bench.workload import stdlib_file
    from tests.helpers import start_server, stop_server

    text = stdlib_file("http/client.py").read_text()
    at = text.index('"IncompleteRead"')
    prefix, suffix = text[:at], text[at:][text[at:].index("\n"):]

    def ask(c, model):
        return c.completions.create(model=model, prompt=prefix, suffix=suffix, max_tokens=MAX_TOKENS, temperature=0,
                                    extra_body={"language": "python", "cache_salt": uuid.uuid4().hex})

    off = start_server("--disable-filter", "InlineLoop", name="inline-loop-off")
    try:
        raw = ask(openai.OpenAI(base_url=off.base_url, api_key="not-needed", max_retries=0, timeout=300), off.model)
    finally:
        stop_server(off)
    piece = '"UnimplementedSockets", '
    assert raw.choices[0].text.count(piece) >= 2  # the model loops
    answer = ask(client, live_server.model)
    assert answer.choices[0].text.count("UnimplementedSockets") == 1
    assert answer.usage.completion_tokens < raw.usage.completion_tokens
