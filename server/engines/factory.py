"""The engine `codefill serve` runs, built from its `EngineSettings`: llama.cpp
on a GGUF, vLLM on a Hugging Face checkpoint, or (with `upstream`) a gateway
that holds only the model's vocabulary. The one place that reads engine
settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codefill.config import default

from ..prompt.families import get_family
from .base import Engine


@dataclass(frozen=True)
class EngineSettings:
    """The engine's part of the settings (codefill/config.py), with their defaults."""

    engine: str = default("engine")
    model: str = default("model")
    served_model_name: str | None = default("served_model_name")
    fim_family: str | None = default("fim_family")
    n_ctx: int = default("n_ctx")
    n_threads: int | None = default("n_threads")
    n_batch: int = default("n_batch")
    # llama.cpp
    sequences: int = default("sequences")
    step_tokens: int = default("step_tokens")
    flash_attn: bool = default("flash_attn")
    session_cache_mb: int = default("session_cache_mb")
    grow_after: float = default("grow_after")
    # speculative decoding, both engines
    speculative: str | None = default("speculative")
    num_speculative_tokens: int = default("num_speculative_tokens")
    # vLLM
    tensor_parallel_size: int = default("tensor_parallel_size")
    quantization: str | None = default("quantization")
    gpu_memory_utilization: float = default("gpu_memory_utilization")
    enforce_eager: bool = default("enforce_eager")
    max_num_seqs: int = default("max_num_seqs")
    # gateway mode
    upstream: str | None = default("upstream")
    upstream_api_key: str | None = default("upstream_api_key")


class EngineConfigError(ValueError):
    """The settings do not make an engine (unknown model, bad file, missing extra ...): a message for the user."""


def build_engine(settings: EngineSettings) -> tuple[Engine, str]:
    """The engine and the model id clients send; EngineConfigError says why not."""
    from codefill.models.store import ModelNotFound

    if settings.fim_family:
        try:
            get_family(settings.fim_family)
        except ValueError as exc:
            raise EngineConfigError(str(exc)) from None
    try:
        if settings.engine == "vllm":
            return _vllm_engine(settings)
        return _gguf_engine(settings)
    except EngineConfigError:
        raise
    except (ModelNotFound, ValueError, ImportError) as exc:
        raise EngineConfigError(str(exc)) from None


def _gguf_engine(settings: EngineSettings) -> tuple[Engine, str]:
    from codefill.models.store import resolve_model

    path = _gateway_vocab(settings) or resolve_model(settings.model)
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF" and path.suffix != ".json":
            raise EngineConfigError(f"{path} is not a GGUF file (llama.cpp needs GGUF; see README: using your own "
                                    "model)")
    model_id = settings.served_model_name or model_id_of(settings.model, path)
    if settings.upstream:
        return _gateway_engine(settings, path, model_id), model_id
    return _llama_cpp_engine(settings, path, model_id), model_id


def _llama_cpp_engine(settings: EngineSettings, path: Path, model_id: str) -> Engine:
    from .llama_cpp import LlamaCppEngine

    speculative = settings.speculative or "none"
    if speculative not in ("ngram", "none"):
        raise EngineConfigError(f"--speculative {speculative}: the llama.cpp engine drafts by prompt lookup only "
                                "(ngram or none); draft models and EAGLE are for --engine vllm")
    return LlamaCppEngine(path, model_id=model_id, n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                          n_batch=settings.n_batch, flash_attn=settings.flash_attn, family=settings.fim_family,
                          draft_max=settings.num_speculative_tokens if speculative == "ngram" else 0,
                          session_cache_bytes=settings.session_cache_mb * 1024 * 1024,
                          sequences=settings.sequences, step_tokens=settings.step_tokens,
                          grow_after=settings.grow_after)


def _gateway_vocab(settings: EngineSettings) -> Path | None:
    """Gateway mode with a Hugging Face tokenizer (a tokenizer.json, a checkpoint folder or
    hf:REPO_ID) instead of a GGUF: its path, else None."""
    if not settings.upstream:
        return None
    from .vocab import hf_tokenizer

    return hf_tokenizer(settings.model)


def _gateway_engine(settings: EngineSettings, vocab_path: Path, model_id: str) -> Engine:
    """Gateway mode: no local model, only its vocabulary; the upstream generates."""
    from .upstream import UpstreamEngine

    return UpstreamEngine(settings.upstream, vocab_path, model_id=model_id, api_key=settings.upstream_api_key,
                          n_ctx=settings.n_ctx, family=settings.fim_family)


def _vllm_engine(settings: EngineSettings) -> tuple[Engine, str]:
    from codefill.models.store import catalogue_entry, resolve_checkpoint

    from .vllm import VllmEngine, VllmOptions, speculative_config

    speculative = settings.speculative or "ngram"
    speculative_config(speculative, settings.num_speculative_tokens)  # a bad value fails here, not later
    checkpoint = resolve_checkpoint(settings.model)
    entry = catalogue_entry(settings.model)
    model_id = settings.served_model_name or (entry.name if entry else Path(checkpoint).name)
    options = VllmOptions(max_model_len=settings.n_ctx, tensor_parallel_size=settings.tensor_parallel_size,
                          quantization=settings.quantization, speculative=speculative,
                          num_speculative_tokens=settings.num_speculative_tokens,
                          gpu_memory_utilization=settings.gpu_memory_utilization,
                          enforce_eager=settings.enforce_eager, max_num_seqs=settings.max_num_seqs)
    return VllmEngine(checkpoint, model_id=model_id, options=options, family=settings.fim_family), model_id


def model_id_of(spec: str, path: Path) -> str:
    """The id clients send for `--model spec` resolved to `path`: the catalogue name, else the file's stem."""
    from codefill.models.store import ALIASES, CATALOGUE

    name = ALIASES.get(spec, spec)
    if path.name.endswith("tokenizer.json"):  # gateway mode: the checkpoint folder's or hub repo's name
        return spec.rstrip("/").removesuffix("/tokenizer.json").rsplit("/", 1)[-1]
    return name if name in CATALOGUE else path.stem
