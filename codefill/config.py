"""Configuration: flags, then environment variables (CODEFILL_*), then a TOML
config file (`--config` or CODEFILL_CONFIG), then these defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

_config_file: Path | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODEFILL_", extra="forbid")

    model: str = Field("default", description="GGUF path, catalogue name (see `codefill models list`) or hf:REPO:FILE")
    engine: Literal["llama.cpp", "vllm"] = Field("llama.cpp", description="inference engine")
    served_model_name: str | None = Field(None, description="model id clients use (default: the model's name)")
    fim_family: str | None = Field(None, description="FIM template family; detected from the model when unset")
    host: str = Field("127.0.0.1", description="interface to listen on")
    port: int = Field(8000, ge=0, le=65535)
    n_ctx: int = Field(4096, ge=256, description="context window in tokens")
    n_threads: int | None = Field(None, ge=1, description="CPU threads (default: all cores)")
    n_batch: int = Field(256, ge=8, description="prompt tokens evaluated per step")
    sequences: int = Field(8, ge=1, le=256, description="llama.cpp: requests decoded at once (continuous batching)")
    step_tokens: int = Field(128, ge=1, description="llama.cpp: tokens per engine step, one per generating request "
                                                    "and the rest for prompts (chunked prefill); at most n_batch")
    flash_attn: bool = Field(False, description="llama.cpp: fused attention kernels (see docs/BENCHMARKS.md)")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="largest request body accepted")
    max_choices: int = Field(16, ge=1, description="most completions one request may ask for (prompts x n)")
    default_temperature: float = Field(0.0, ge=0.0, le=2.0, description="temperature when a request sets none")
    fim_order: Literal["auto", "psm", "spm"] = Field(
        "auto", description="FIM prompt order: psm (prefix first), spm (suffix first, keeps the suffix cached while "
                            "typing), auto (spm where the family was trained on it)")
    session_cache_mb: int = Field(512, ge=0, description="llama.cpp: RAM for editor sessions' saved KV states (LRU)")
    anchor_window: bool = Field(True, description="start long prompts at a content-defined line so the KV cache "
                                                  "survives the editor's window sliding down the file")
    token_healing: bool = Field(True, description="take the prompt's last token back and let the model choose "
                                                  "the answer's first token among those that begin with it "
                                                  "(llama.cpp engine)")
    cold_window: int = Field(384, ge=0, description="llama.cpp: when the KV cache holds too little of a long prompt, "
                                                  "answer from about this many tokens before the cursor and "
                                                  "evaluate the full window in idle time; 0: off")
    disable_filters: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="post-processing filters to leave out, by name, or 'all' "
                                          "(comma-separated in the env; see docs/ARCHITECTURE.md)")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # vLLM engine only (`--engine vllm`, see docs/ARCHITECTURE.md "The vLLM engine"); n_ctx is its max_model_len.
    tensor_parallel_size: int = Field(1, ge=1, description="vLLM: GPUs one replica spans (tensor parallel)")
    quantization: str | None = Field(None, description="vLLM: quantization method (awq, gptq, fp8, "
                                                        "compressed-tensors...); default: the checkpoint's own")
    speculative: str | None = Field(None, description="speculative decoding: ngram (prompt lookup), none, and on "
                                                       "vLLM draft:MODEL or eagle:MODEL; default: ngram on vLLM, "
                                                       "none on llama.cpp (see docs/BENCHMARKS.md)")
    num_speculative_tokens: int = Field(4, ge=1, description="tokens proposed per speculative step")
    gpu_memory_utilization: float = Field(0.9, gt=0.0, le=1.0, description="vLLM: share of GPU memory it may take")
    enforce_eager: bool = Field(False, description="vLLM: no CUDA graphs (starts faster, decodes slower)")
    max_num_seqs: int = Field(32, ge=1, description="vLLM: requests batched at once (more wait in the fair queue)")
    # -- running it for a team (server/auth.py, server/limits.py, server/logs.py) --
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="API keys as NAME=KEY or NAME=sha256:HEX (comma-separated in the env)")
    api_keys_file: Path | None = Field(None, description="file of keys, one 'NAME sha256:HEX' a line "
                                                         "(`codefill keys create` writes it)")
    allow_open: bool = Field(False, description="serve without keys on an interface other than loopback")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="origins allowed by CORS ('*' for any); none by default")
    rate_limit_rps: float | None = Field(None, gt=0, description="requests per second per key (token bucket)")
    rate_limit_tpm: int | None = Field(None, ge=1, description="prompt + completion tokens per minute per key")
    max_concurrent_per_key: int | None = Field(None, ge=1, description="completion requests one key may have open")
    max_pending: int = Field(64, ge=1, description="completion requests admitted at once (running + queued); "
                                                   "more get 503")
    max_prompt_tokens: int | None = Field(None, ge=1, description="longest prompt + suffix in tokens "
                                                                   "(default: trimmed to the context)")
    max_tokens_limit: int | None = Field(None, ge=1, description="largest max_tokens a request may ask for")
    request_timeout: float = Field(300.0, gt=0, description="seconds a completion may take, queueing included")
    events_rate_limit_rps: float | None = Field(20.0, gt=0, description="/v1/events reports per second per key")
    # -- tenants (server/tenants.py): cache sharing, fair shares, the admin API --
    share_cache: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="groups of API key names whose requests may reuse each other's KV / "
                                          "prefix cache, as NAME+NAME (comma-separated groups in the env)")
    tenant_weights: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="NAME=WEIGHT: a key's share of a busy engine (default 1 each)")
    admin_key: str | None = Field(None, description="key for the admin API (/admin/*), clear or sha256:HEX")
    log_format: Literal["text", "json"] = Field("text", description="'json': one JSON object a log line")
    log_prompts: bool = Field(False, description="log prompts and completions (debugging only)")
    # -- gateway mode (server/engines/upstream.py): in front of one OpenAI-compatible endpoint --
    upstream: str | None = Field(None, description="base URL of an OpenAI-compatible server (vLLM, or a "
                                                   "session-affine router in front of several); given: codefill "
                                                   "is a gateway and runs no model")
    upstream_api_key: str | None = Field(None, description="sent to the upstream as 'Authorization: Bearer KEY'")

    @field_validator("api_keys", "cors_origins", "disable_filters", "share_cache", "tenant_weights",
                     mode="before")
    @classmethod
    def _split_commas(cls, v):
        if isinstance(v, str):
            return [part.strip() for part in v.split(",") if part.strip()]
        return v

    @field_validator("disable_filters")
    @classmethod
    def _known_filters(cls, v: list[str]) -> list[str]:
        from codefill.server.postprocess import disabled_filters

        disabled_filters(v)  # raises ValueError naming the filters there are
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file or (Path(os.environ["CODEFILL_CONFIG"]) if os.environ.get("CODEFILL_CONFIG") else None)
        if path is not None:
            if not path.is_file():
                raise FileNotFoundError(f"config file {path} does not exist")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def load_settings(config_file: str | Path | None = None, **overrides) -> Settings:
    global _config_file
    _config_file = Path(config_file).expanduser() if config_file else None
    try:
        return Settings(**overrides)
    finally:
        _config_file = None
