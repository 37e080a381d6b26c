"""The real default model's vocabulary (llama.cpp's tokenizer) tokenized a piece
at a time (server/prompt/tokens.py): the same tokens as the whole text, on
standard-library files the safety check does not look at, keystroke after
keystroke."""

from __future__ import annotations

import pytest

from codefill.bench.workload import stdlib_file
from codefill.models.store import resolve_model
from codefill.server.engines.vocab import GgufVocabulary
from codefill.server.prompt.tokens import LineTokens, cuts_safely

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def vocab():
    return GgufVocabulary(resolve_model("default", fetch=False))


def test_the_default_models_tokens_piece_by_piece_are_its_tokens_for_the_whole(vocab):
    assert cuts_safely(vocab)
    lines = LineTokens(vocab, safe=True)
    for name in ("csv.py", "fractions.py", "shlex.py", "json/decoder.py", "email/feedparser.py"):
        text = stdlib_file(name).read_text()
        assert lines.tokenize(text, add_bos=True) == vocab.tokenize(text, add_bos=True), name


def test_typing_word_by_word_gives_the_same_tokens_as_tokenizing_afresh(vocab):
    lines = LineTokens(vocab, safe=True)
    source = stdlib_file("statistics.py").read_text()
    start = source.index("def fmean(")
    head = source[max(0, start - 5000):start]
    for end in range(start, start + 600, 7):  # a keystroke every few characters, across lines and indents
        window = head + source[start:end]
        assert lines.tokenize(window) == vocab.tokenize(window), repr(source[start:end][-40:])


def test_the_check_refuses_a_cut_this_vocabulary_does_not_make(vocab, monkeypatch):
    # Cutting before anything that is not a space (a digit too) is wrong for this tokenizer, which gives a
    # digit no space before it: the check on sample code must say so, so such a rule would never be used.
    import re

    from codefill.server.prompt import tokens

    monkeypatch.setattr(tokens, "_CUT", re.compile(r"\s*\n\s*(?=\S)"))
    assert not cuts_safely(vocab)
