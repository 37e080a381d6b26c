"""The gateway's Hugging Face tokenizer (server/engines/vocab.py) behaves like
the llama.cpp vocabulary it stands in for: markers are special tokens only
when asked, BOS only where the model wants one, and family detection works.
Built here with the `tokenizers` library: a byte-level BPE with Qwen2.5-Coder's
special tokens."""

from __future__ import annotations

import json

import pytest

from codefill.server.prompt.families import detect_family
from codefill.server.engines.vocab import HfVocabulary, hf_tokenizer, load_vocabulary
from tests.hf_hub import CODE, SPECIALS, Hub, build_checkpoint



@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return build_checkpoint(tmp_path_factory.mktemp("checkpoint"))


def test_markers_are_special_only_when_asked(checkpoint):
    vocab = HfVocabulary(checkpoint / "tokenizer.json")
    marker = vocab.special_token("<|fim_prefix|>")
    assert marker is not None and vocab.special_token("def") is None
    assert vocab.tokenize("x<|fim_prefix|>", special=True)[-1] == marker
    plain = vocab.tokenize("x<|fim_prefix|>")
    assert marker not in plain and vocab.detokenize(plain) == "x<|fim_prefix|>"
    assert vocab.detokenize(vocab.tokenize(CODE)) == CODE
    assert vocab.tokenize("", add_bos=True) == [], "Qwen has no BOS"
    assert vocab.n_vocab >= len(SPECIALS) and vocab.architecture == "qwen2"


def test_bos_follows_tokenizer_config(checkpoint, tmp_path):
    for name in ("tokenizer.json", "config.json"):
        (tmp_path / name).write_bytes((checkpoint / name).read_bytes())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<|endoftext|>",
                                                                "add_bos_token": True}))
    vocab = HfVocabulary(tmp_path / "tokenizer.json")
    bos = vocab.special_token("<|endoftext|>")
    assert vocab.tokenize("def", add_bos=True)[0] == bos
    assert bos not in vocab.tokenize("def")


def test_family_is_detected_from_the_tokenizer(checkpoint):
    vocab = load_vocabulary(checkpoint)  # the folder, as vLLM's checkpoint is given

    class Probe:
        def has_special_token(self, text: str) -> bool:
            return vocab.special_token(text) is not None

    assert isinstance(vocab, HfVocabulary)
    assert detect_family(Probe(), vocab.architecture).name == "qwen2.5-coder"


def test_which_specs_name_a_hugging_face_tokenizer(checkpoint, tmp_path):
    assert hf_tokenizer(str(checkpoint)) == checkpoint / "tokenizer.json"
    assert hf_tokenizer(str(checkpoint / "tokenizer.json")) == checkpoint / "tokenizer.json"
    assert hf_tokenizer(str(tmp_path)) is None  # a folder without one
    assert hf_tokenizer("hf:Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF:q4_0.gguf") is None  # a GGUF on the hub
    assert hf_tokenizer("default") is None


def test_hf_repo_id_downloads_the_tokenizer_files_only(checkpoint, hub):
    from codefill.models.store import ModelNotFound

    files = {name: (checkpoint / name).read_bytes() for name in ("tokenizer.json", "config.json")}
    Hub.files = {"someone/coder": {**files, "model.safetensors": b"\0" * 100_000}}
    path = hf_tokenizer("hf:someone/coder", endpoint=hub)
    assert path.name == "tokenizer.json" and path.read_bytes() == files["tokenizer.json"]
    assert HfVocabulary(path).architecture == "qwen2"  # config.json came along
    assert not any("safetensors" in r for r in Hub.requests), "the weights were downloaded"
    Hub.files = {"someone/empty": {}}
    with pytest.raises(ModelNotFound, match="tokenizer.json"):
        hf_tokenizer("hf:someone/empty", endpoint=hub)
