"""The model catalogue (models/catalogue.toml), checkpoints for vLLM, and
downloads through huggingface_hub, against a hub played on loopback by a
small HTTP server that serves local files (no hub is reachable here)."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from codefill.models import store
from codefill.server.prompt.families import FAMILIES
from codefill.server.engines.vllm import speculative_config

COMMIT = "0123456789abcdef0123456789abcdef01234567"


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


# -- a hub on loopback ---------------------------------------------------------

class _Hub(BaseHTTPRequestHandler):
    files: dict[str, dict[str, bytes]] = {}  # repo -> file -> content
    requests: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def _answer(self, body: bytes, headers: dict[str, str], send_body: bool) -> None:
        self.send_response(200)
        for k, v in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(k, v)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _route(self, send_body: bool) -> None:
        self.requests.append(f"{self.command} {self.path}")
        path = self.path.split("?")[0]
        for repo, files in self.files.items():
            if path.startswith(f"/api/models/{repo}/revision/"):
                info = {"id": repo, "sha": COMMIT, "siblings": [{"rfilename": f} for f in files]}
                return self._answer(json.dumps(info).encode(), {"Content-Type": "application/json"}, send_body)
            if path.startswith(f"/api/models/{repo}/tree/"):
                tree = [{"type": "file", "path": f, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                        for f, b in files.items()]
                return self._answer(json.dumps(tree).encode(), {"Content-Type": "application/json"}, send_body)
            prefix = f"/{repo}/resolve/"
            if path.startswith(prefix):
                name = path[len(prefix):].split("/", 1)[1]
                if name in files:
                    body = files[name]
                    etag = '"' + hashlib.sha256(body).hexdigest() + '"'
                    return self._answer(body, {"X-Repo-Commit": COMMIT, "ETag": etag}, send_body)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:
        self._route(send_body=False)

    def do_GET(self) -> None:
        self._route(send_body=True)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    _Hub.files = {}
    _Hub.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_gguf_comes_from_the_hub_into_its_cache(hub):
    gguf = store.resolve_model("default", fetch=False).read_bytes()[:4096]  # a real GGUF's head is enough
    _Hub.files = {"someone/coder-GGUF": {"coder-q4_0.gguf": gguf}}
    path = store.download_from_hub("hf:someone/coder-GGUF:coder-q4_0.gguf", endpoint=hub)
    assert path.read_bytes() == gguf
    assert "hub-cache" in str(path)


def test_a_checkpoint_for_vllm_comes_from_the_hub(hub):
    files = {"config.json": b'{"architectures": ["LlamaForCausalLM"]}', "tokenizer.json": b"{}",
             "model.safetensors": b"\x00" * 1000, "README.md": b"not needed"}
    _Hub.files = {"someone/coder": files}
    path = Path(store.resolve_checkpoint("hf:someone/coder", endpoint=hub))
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert (path / "model.safetensors").read_bytes() == files["model.safetensors"]


def test_a_missing_file_on_the_hub_is_a_clear_error(hub):
    _Hub.files = {"someone/coder-GGUF": {}}
    with pytest.raises(store.ModelNotFound, match="could not get nope.gguf from someone/coder-GGUF"):
        store.download_from_hub("hf:someone/coder-GGUF:nope.gguf", endpoint=hub)
