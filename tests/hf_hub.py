"""A Hugging Face hub played on loopback by a small HTTP server that serves
files from memory (no hub is reachable in tests; conftest's `hub` fixture
starts one), and a tokenizer-only checkpoint of the kind the gateway reads.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class Hub(BaseHTTPRequestHandler):
    """The part of the hub's HTTP API that huggingface_hub downloads use, serving `files`;
    `requests` lists what was asked, in order."""

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


@contextmanager
def hub_on_loopback() -> Iterator[str]:
    """A hub with no files yet (put them in `Hub.files`); its URL."""
    Hub.files = {}
    Hub.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


# -- a tokenizer-only checkpoint: a byte-level BPE with Qwen2.5-Coder's special tokens --------

SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>",
            "<|repo_name|>", "<|file_sep|>"]
CODE = "def add(a, b):\n    return a + b\n\nprint(add(1, 2))  # é\n"


def build_checkpoint(folder):
    """A checkpoint folder with only the tokenizer's files (what the gateway reads)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([CODE] * 20, trainer)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    return folder
