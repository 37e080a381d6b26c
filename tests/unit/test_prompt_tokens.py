"""Tokenizing an editor's window a piece at a time (server/prompt/tokens.py): the
pieces put back together are the text, their tokens are the text's own tokens
where the vocabulary allows it (checked on byte-level BPE tokenizers built with
`tokenizers`, with and without a space put before every text), a keystroke
tokenizes only what changed, and each cache salt has a memory of its own. The
real default model's vocabulary: tests/integration/test_prompt_tokens.py."""

from __future__ import annotations

import inspect
import json

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from codefill.server.tenants import scoped
from codefill.server.engines.vocab import HfVocabulary
from codefill.server.prompt.tokens import LineTokens, TokenMemory, cuts_safely, pieces

CODE = inspect.getsource(json.decoder) + "\tif x:\r\n\t\treturn {'é': 1}\r\n\n  \n}\n"


class Counting:
    """A vocabulary that counts the characters it was asked to tokenize."""

    def __init__(self, vocab):
        self.vocab, self.chars = vocab, 0

    def __getattr__(self, name):
        return getattr(self.vocab, name)

    def tokenize(self, text, *, special=False, add_bos=False):
        self.chars += len(text)
        return self.vocab.tokenize(text, special=special, add_bos=add_bos)


def byte_level(folder, *, prefix_space: bool) -> HfVocabulary:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=prefix_space)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([CODE] * 5, trainer)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    return HfVocabulary(folder / "tokenizer.json")


def test_pieces_put_back_together_are_the_text_and_cut_only_before_names():
    for text in (CODE, "", "x", "\n\n", "a\n\n  b\n\tc  \r\n}\n", "  lead\nno_end", "x = [\n    1,\n    2]\n"):
        parts = pieces(text)
        assert "".join(parts) == text
        for part in parts[1:]:
            assert part[0].isspace() and (part[1:2].isalpha() or part[1:2] == "_"), part  # one blank, a name
    assert pieces("a = 1\n    b = 2\n") == ["a = 1\n   ", " b = 2\n"]


def test_pieces_give_the_texts_own_tokens_on_a_byte_level_bpe(tmp_path):
    vocab = byte_level(tmp_path, prefix_space=False)
    assert cuts_safely(vocab)
    lines = LineTokens(vocab, safe=True)
    for text in (CODE, CODE[:5000], CODE[1234:], "x" * 10 + "\n\n\n    y"):
        assert lines.tokenize(text) == vocab.tokenize(text)
        assert lines.tokenize(text, add_bos=True) == vocab.tokenize(text, add_bos=True)


def test_a_vocabulary_that_prefixes_every_text_is_tokenized_whole(tmp_path):
    vocab = byte_level(tmp_path, prefix_space=True)  # " " before every text: pieces would each get one
    assert not cuts_safely(vocab)
    memory = TokenMemory(vocab)
    assert memory.for_salt("a").tokenize(CODE) == vocab.tokenize(CODE)


def test_a_keystroke_tokenizes_only_what_changed(tmp_path):
    vocab = Counting(byte_level(tmp_path, prefix_space=False))
    lines = LineTokens(vocab, safe=True)
    window = CODE[:6000]
    first = lines.tokenize(window)
    before = vocab.chars
    typed = window + "value = compute("
    assert lines.tokenize(typed) == vocab.vocab.tokenize(typed)
    assert vocab.chars - before < 200, "the unchanged lines were tokenized again"
    assert first == vocab.vocab.tokenize(window)


def test_each_cache_salt_has_a_memory_of_its_own_and_the_admin_drop_forgets_it(tmp_path):
    vocab = byte_level(tmp_path, prefix_space=False)
    memory = TokenMemory(vocab)
    acme, globex = memory.for_salt("acme"), memory.for_salt("globex")
    narrowed = memory.for_salt(scoped("acme", "project-x"))
    assert len({id(acme), id(globex), id(narrowed)}) == 3 and memory.for_salt("acme") is acme
    acme.tokenize(CODE)
    assert acme._memo and not globex._memo, "one tenant's lines reached another's memory"
    memory.drop("acme")  # the tenant and the salts narrowed from it
    assert memory.for_salt("acme") is not acme and memory.for_salt(scoped("acme", "project-x")) is not narrowed
    assert memory.for_salt("globex") is globex


def test_memory_is_bounded(tmp_path):
    vocab = byte_level(tmp_path, prefix_space=False)
    lines = LineTokens(vocab, safe=True, chars=1000)
    assert lines.tokenize(CODE) == vocab.tokenize(CODE)
    assert 0 < lines._held == sum(len(p) for p in lines._memo) <= 1000
    assert len(TokenMemory(vocab, salts=3)._by_salt) == 0
    memory = TokenMemory(vocab, salts=3)
    for salt in "abcde":
        memory.for_salt(salt)
    assert list(memory._by_salt) == ["c", "d", "e"]
    with pytest.raises(AttributeError):
        lines.no_such_thing
