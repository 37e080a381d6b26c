"""The one settings step: `codefill serve`'s `Settings` (codefill/config.py, where
every option is declared with its one default) become the typed groups each
part of the server takes, built once here and checked once (a ValueError says
what is wrong):

| group         | type                               | taken by                          |
|---------------|------------------------------------|-----------------------------------|
| `keys`        | auth.py `KeyStore`                 | the key check (middleware)        |
| `http`        | `HttpSettings` (here)              | create_app: body limit, CORS, logs|
| `completions` | service/serving.py `CompletionSettings` | the completions service      |
| `prompt`      | prompt/ `PromptSettings`           | the prompt stage                  |
| `limits`      | limits.py `LimitSettings`          | the Gate                          |
| `tenants`     | tenants.py `TenantSettings`        | service, fair queue, admin API    |
| `engine`      | engines/factory.py `EngineSettings`| `build_engine`                    |
| `next_edit`   | nextedit/service.py `NextEditSettings` | the next-edit service         |

Each group's defaults are the settings' own, so tests and scripts make a group
with only the fields they change. A new option: declare it in
codefill/config.py, add a field of the same name to its part's group.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from codefill.config import Settings, default

from .auth import KeyError_, KeyStore, check_open_mode
from .engines.factory import EngineSettings
from .limits import LimitSettings
from .nextedit.service import NextEditSettings
from .postprocess import disabled_filters
from .prompt import PromptSettings
from .service.serving import CompletionSettings
from .tenants import TenantSettings


@dataclass(frozen=True)
class HttpSettings:
    """The HTTP layer's part of the settings, with their defaults."""

    max_body_bytes: int = default("max_body_bytes")
    cors_origins: tuple[str, ...] = ()
    log_prompts: bool = default("log_prompts")


@dataclass(frozen=True)
class ServerSettings:
    """Every group, as `server_settings` builds them; `create_app` takes all but `engine`."""

    keys: KeyStore = field(default_factory=KeyStore)
    http: HttpSettings = HttpSettings()
    completions: CompletionSettings = CompletionSettings()
    prompt: PromptSettings = PromptSettings()
    limits: LimitSettings = field(default_factory=LimitSettings)
    tenants: TenantSettings = field(default_factory=TenantSettings)
    engine: EngineSettings = EngineSettings()
    next_edit: NextEditSettings = NextEditSettings()


def _group(cls: type, settings: Settings, **values: Any):
    """`cls` with each field taken from the setting of the same name, unless given in `values`."""
    taken = {f.name: getattr(settings, f.name) for f in fields(cls) if f.name not in values}
    return cls(**taken, **values)


def server_settings(settings: Settings) -> ServerSettings:
    """The groups from `settings`; ValueError when they are unsafe or unreadable."""
    file = Path(settings.api_keys_file).expanduser() if settings.api_keys_file is not None else None
    if file is not None and not file.is_file():
        raise ValueError(f"API keys file {settings.api_keys_file} does not exist")
    try:
        keys = KeyStore.load(settings.api_keys, file)
    except KeyError_ as exc:
        raise ValueError(str(exc)) from None
    refusal = check_open_mode(settings.host, keys, settings.allow_open)
    if refusal:
        raise ValueError(refusal)
    return ServerSettings(
        keys=keys,
        http=_group(HttpSettings, settings, cors_origins=tuple(settings.cors_origins)),
        completions=_group(CompletionSettings, settings, disabled_filters=disabled_filters(settings.disable_filters)),
        prompt=_group(PromptSettings, settings, anchor=settings.anchor_window),
        limits=_group(LimitSettings, settings),
        tenants=TenantSettings.build(share_cache=settings.share_cache, weights=settings.tenant_weights,
                                     admin_key=settings.admin_key),
        engine=_group(EngineSettings, settings),
        next_edit=_group(NextEditSettings, settings),
    )
