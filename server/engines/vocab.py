"""A model's tokenizer without its weights, for gateway mode.

The gateway templates and trims prompts in tokens, so it needs the upstream
model's vocabulary: from a GGUF (llama.cpp loads it vocabulary-only), or from
a Hugging Face `tokenizer.json` (the `tokenizers` library), such as the one in
the checkpoint folder vLLM serves.

`Vocabulary` is the one protocol for a model's tokenizer: what the prompt
stage (server/prompt/) and family recognition (`detect_family`) ask of it.
Every engine is one (the Engine protocol extends it), and so are the two
tokenizers here, which answer the same way as the llama.cpp engine:
`tokenize(text, special=, add_bos=)` (special: marker strings become their
special tokens; otherwise everything is plain text), `detokenize`, and
whether a string is one special token (`special_token` also gives its id).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol


class Vocabulary(Protocol):
    """A model's tokenizer, as the prompt stage and family recognition use it."""

    @property
    def n_vocab(self) -> int: ...

    def tokenize(self, text: str, *, special: bool = False, add_bos: bool = False) -> list[int]:
        """`special`: marker strings become their special tokens; otherwise all is plain text."""
        ...

    def detokenize(self, tokens: list[int]) -> str: ...

    def has_special_token(self, text: str) -> bool:
        """Whether `text` is one special token of this vocabulary (family recognition)."""
        ...


class GgufVocabulary:
    """A GGUF's vocabulary: loaded on its own (vocabulary-only), or that of a
    loaded `llama_cpp.Llama` (`llm=`, what the llama.cpp engine uses)."""

    def __init__(self, path: Path | None = None, *, llm=None) -> None:
        if llm is None:
            from llama_cpp import Llama

            llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
        self._llm = llm
        self.architecture = self._llm.metadata.get("general.architecture")

    @property
    def n_vocab(self) -> int:
        return self._llm.n_vocab()

    def tokenize(self, text: str, *, special: bool = False, add_bos: bool = False) -> list[int]:
        if not text and not add_bos:
            return []
        return self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)

    def detokenize(self, tokens: list[int]) -> str:
        return self._llm.detokenize(tokens).decode("utf-8", errors="replace")

    def special_token(self, text: str) -> int | None:
        ids = self.tokenize(text, special=True)
        return ids[0] if len(ids) == 1 and self.tokenize(text) != ids else None

    def has_special_token(self, text: str) -> bool:
        return self.special_token(text) is not None

    def close(self) -> None:
        self._llm.close()


class HfVocabulary:
    """`tokenizer.json`; the BOS rule from `tokenizer_config.json` next to it."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(path))
        self._specials = {t.content: i for i, t in self._tok.get_added_tokens_decoder().items() if t.special}
        config = _read_json(path.with_name("tokenizer_config.json"))
        bos = config.get("bos_token")
        bos = bos.get("content") if isinstance(bos, dict) else bos
        self._bos = self._specials.get(bos) if config.get("add_bos_token") and bos else None
        self.architecture = _read_json(path.with_name("config.json")).get("model_type")

    @property
    def n_vocab(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def tokenize(self, text: str, *, special: bool = False, add_bos: bool = False) -> list[int]:
        # Off: a marker's text in user code is split like any text, as llama.cpp's special=False does.
        self._tok.encode_special_tokens = not special
        ids = self._tok.encode(text, add_special_tokens=False).ids if text else []
        return ([self._bos] if add_bos and self._bos is not None else []) + ids

    def detokenize(self, tokens: list[int]) -> str:
        return self._tok.decode(tokens, skip_special_tokens=False)

    def special_token(self, text: str) -> int | None:
        return self._specials.get(text)

    def has_special_token(self, text: str) -> bool:
        return self.special_token(text) is not None

    def close(self) -> None:
        pass


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def hf_tokenizer_file(spec: str | Path) -> Path | None:
    """The tokenizer.json that `spec` names (the file, or a checkpoint folder holding one), else None."""
    path = Path(spec).expanduser()
    if path.is_dir() and (path / "tokenizer.json").is_file():
        return path / "tokenizer.json"
    if path.is_file() and path.name.endswith("tokenizer.json"):
        return path
    return None


def hf_tokenizer(spec: str, *, endpoint: str | None = None) -> Path | None:
    """The tokenizer.json `spec` names: a file, a checkpoint folder, or hf:REPO_ID
    (only the tokenizer's files are downloaded, not the weights). None: `spec` is
    something else (a GGUF, a catalogue name, hf:REPO_ID:FILENAME)."""
    local = hf_tokenizer_file(spec)
    if local is not None or not (spec.startswith("hf:") and spec.count(":") == 1):
        return local
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    from codefill.models.store import ModelNotFound

    repo = spec[3:]
    try:
        path = Path(hf_hub_download(repo_id=repo, filename="tokenizer.json", endpoint=endpoint))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise ModelNotFound(f"could not get {repo}'s tokenizer.json from the Hugging Face hub: {exc}") from exc
    for name in ("tokenizer_config.json", "config.json"):  # BOS rule, architecture: nice to have
        try:
            hf_hub_download(repo_id=repo, filename=name, endpoint=endpoint)
        except (LocalEntryNotFoundError, HfHubHTTPError, OSError):
            pass
    return path


def load_vocabulary(path: Path) -> GgufVocabulary | HfVocabulary:
    hf = hf_tokenizer_file(path)
    return HfVocabulary(hf) if hf is not None else GgufVocabulary(path)
