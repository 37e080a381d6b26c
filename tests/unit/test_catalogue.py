"""The model catalogue (models/catalogue.toml), checkpoints for vLLM, and
downloads through huggingface_hub, against a hub played on loopback by a
small HTTP server (tests/hf_hub.py; no hub is reachable here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codefill.models import store
from codefill.server.prompt.families import FAMILIES
from codefill.server.engines.vllm import speculative_config
from tests.hf_hub import Hub


def test_every_builtin_entry_names_a_family_a_source_and_quantizations():
    entries = store.catalogue()
    assert "smollm2-135m-instruct" in entries and "qwen2.5-coder-1.5b" in entries
    for entry in entries.values():
        assert entry.family in FAMILIES
        assert entry.gguf or entry.hf_repo
        assert entry.quantization and set(entry.quantization) <= {"llama.cpp", "vllm"}
    assert store.catalogue_entry("default").vllm_from_gguf


def test_a_users_catalogue_file_adds_entries(tmp_path, monkeypatch):
    extra = tmp_path / "more.toml"
    extra.write_text('[models.mine]\nfamily = "starcoder"\ndescription = "x"\nhf_repo = "me/my-coder"\n'
                     'quantization = { vllm = "fp8" }\n')
    monkeypatch.setenv("CODEFILL_CATALOGUE", str(extra))
    assert store.catalogue_entry("mine").hf_repo == "me/my-coder"


@pytest.mark.parametrize("toml, message", [
    ('[models.x]\nfamily = "nope"\nhf_repo = "a/b"\n', "needs a family"),
    ('[models.x]\nfamily = "starcoder"\n', "needs gguf or hf_repo"),
    ('[models.x]\nfamily = "starcoder"\nhf_repo = "a/b"\nquant = "awq"\n', "unknown keys"),
])
def test_a_bad_entry_is_refused_with_its_reason(toml, message):
    with pytest.raises(ValueError, match=message):
        store.parse_catalogue(toml)


def test_a_folder_without_config_is_not_a_checkpoint(tmp_path):
    with pytest.raises(store.ModelNotFound, match="no config.json"):
        store.resolve_checkpoint(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    assert store.resolve_checkpoint(str(tmp_path)) == str(tmp_path)


def test_an_unknown_name_says_what_would_work():
    with pytest.raises(store.ModelNotFound, match="catalogue name"):
        store.resolve_checkpoint("no-such-model")


@pytest.mark.parametrize("spec, expected", [
    ("none", None),
    ("ngram", {"method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_min": 2, "prompt_lookup_max": 5}),
    ("draft:Qwen/Qwen2.5-Coder-0.5B", {"model": "Qwen/Qwen2.5-Coder-0.5B", "num_speculative_tokens": 4}),
    ("eagle:some/eagle-head", {"model": "some/eagle-head", "num_speculative_tokens": 4, "method": "eagle"}),
])
def test_speculative_decoding_settings(spec, expected):
    assert speculative_config(spec, 4) == expected


def test_a_bad_speculative_setting_is_refused():
    with pytest.raises(ValueError, match="expected ngram"):
        speculative_config("medusa", 4)


def test_a_gguf_comes_from_the_hub_into_its_cache(hub):
    gguf = store.resolve_model("default", fetch=False).read_bytes()[:4096]  # a real GGUF's head is enough
    Hub.files = {"someone/coder-GGUF": {"coder-q4_0.gguf": gguf}}
    path = store.download_from_hub("hf:someone/coder-GGUF:coder-q4_0.gguf", endpoint=hub)
    assert path.read_bytes() == gguf
    assert "hub-cache" in str(path)


def test_a_checkpoint_for_vllm_comes_from_the_hub(hub):
    files = {"config.json": b'{"architectures": ["LlamaForCausalLM"]}', "tokenizer.json": b"{}",
             "model.safetensors": b"\x00" * 1000, "README.md": b"not needed"}
    Hub.files = {"someone/coder": files}
    path = Path(store.resolve_checkpoint("hf:someone/coder", endpoint=hub))
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert (path / "model.safetensors").read_bytes() == files["model.safetensors"]


def test_a_missing_file_on_the_hub_is_a_clear_error(hub):
    Hub.files = {"someone/coder-GGUF": {}}
    with pytest.raises(store.ModelNotFound, match="could not get nope.gguf from someone/coder-GGUF"):
        store.download_from_hub("hf:someone/coder-GGUF:nope.gguf", endpoint=hub)
