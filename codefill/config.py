"""Configuration: flags, then environment variables (CODEFILL_*), then a TOML
config file (`--config` or CODEFILL_CONFIG), then these defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

_config_file: Path | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODEFILL_", extra="forbid")

    model: str = Field("default", description="GGUF path, catalogue name (see `codefill models list`) or hf:REPO:FILE")
    engine: Literal["llama.cpp"] = Field("llama.cpp", description="inference engine")
    served_model_name: str | None = Field(None, description="model id clients use (default: the model's name)")
    fim_family: str | None = Field(None, description="FIM template family; detected from the model when unset")
    host: str = Field("127.0.0.1", description="interface to listen on")
    port: int = Field(8000, ge=0, le=65535)
    n_ctx: int = Field(4096, ge=256, description="context window in tokens")
    n_threads: int | None = Field(None, ge=1, description="CPU threads (default: all cores)")
    n_batch: int = Field(256, ge=8, description="prompt tokens evaluated per step")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="largest request body accepted")
    max_choices: int = Field(16, ge=1, description="most completions one request may ask for (prompts x n)")
    default_temperature: float = Field(0.0, ge=0.0, le=2.0, description="temperature when a request sets none")
    anchor_window: bool = Field(True, description="start long prompts at a content-defined line so the KV cache "
                                                  "survives the editor's window sliding down the file")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

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
