"""The bridge's settings, from `codefill lsp` flags, then the client's
`initializationOptions` (initialize), then its workspace settings
(workspace/didChangeConfiguration, or pulled with workspace/configuration).

Each source changes only the keys it names. Keys may be camelCase (as editors
write them) or snake_case, at the top level or inside a `codefill` section.
A bad value is reported and ignored; it never stops the bridge.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

SECTION = "codefill"
MODES = ("auto", "single_line", "multi_line")
INLINE_NEXT_EDITS = ("invoked", "always", "off")
MAX_DEADLINE_MS = 60000


@dataclass(frozen=True)
class Settings:
    server_url: str = "http://127.0.0.1:8000"
    api_key: str | None = None
    model: str | None = None
    """Model id to ask for; unset: the first one the server lists."""
    languages: tuple[str, ...] = ("*",)
    """Language ids to complete in; "*" is all of them."""
    mode: str = "auto"
    """auto (one line mid-line, a block at the end of a line), single_line or multi_line."""
    max_tokens: int = 128
    timeout_ms: int = 5000
    """Longest wait for one completion; past it the editor gets an empty answer."""
    debounce_ms: int = 0
    """Wait this long before asking the server; a newer request in the meantime replaces this one."""
    deadline_ms: int = 1500
    """How long the editor waits for ghost text, sent as `deadline_ms`: the server drops an answer that
    would come later than this instead of spending compute on it. 0: not sent (the server learns one)."""
    prewarm: bool = True
    """On didOpen, have the server read the file's start into its cache."""
    inline_next_edits: str = "invoked"
    """When an inline completion also asks for a next edit on the cursor's line: invoked, always or off."""
    next_edit_max_tokens: int | None = None
    """Most tokens the model may write for a next edit (its rewrite of a region); unset: the server's default."""

    def enabled_for(self, language_id: str) -> bool:
        return "*" in self.languages or language_id in self.languages


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _mode(value: Any) -> str:
    mode = _snake(str(value)).replace("-", "_")
    if mode in ("singleline", "single"):
        mode = "single_line"
    if mode in ("multiline", "multi"):
        mode = "multi_line"
    if mode not in MODES:
        raise ValueError(f"must be one of {', '.join(MODES)}")
    return mode


def _inline_next_edits(value: Any) -> str:
    if value not in INLINE_NEXT_EDITS:
        raise ValueError(f"must be one of {', '.join(INLINE_NEXT_EDITS)}")
    return value


def _url(value: Any) -> str:
    url = str(value).strip().rstrip("/")
    if not re.match(r"^https?://[^/]", url):
        raise ValueError("must be an http:// or https:// URL")
    # People paste the OpenAI base URL; the bridge adds /v1 itself.
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _positive_int(value: Any, *, zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ValueError("must be a whole number")
    if value < (0 if zero else 1):
        raise ValueError("must be at least " + ("0" if zero else "1"))
    return int(value)


def _deadline_ms(value: Any) -> int:
    ms = _positive_int(value, zero=True)
    if ms > MAX_DEADLINE_MS:  # the server's bound: refused with a 400 on every request otherwise
        raise ValueError(f"must be at most {MAX_DEADLINE_MS} (0: not sent)")
    return ms


def _languages(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError('must be a list of language ids, or ["*"] for all')
    return tuple(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _optional_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


_PARSERS = {
    "server_url": _url,
    "api_key": _optional_str,
    "model": _optional_str,
    "languages": _languages,
    "mode": _mode,
    "max_tokens": _positive_int,
    "timeout_ms": _positive_int,
    "debounce_ms": lambda v: _positive_int(v, zero=True),
    "deadline_ms": _deadline_ms,
    "prewarm": _bool,
    "inline_next_edits": _inline_next_edits,
    "next_edit_max_tokens": lambda v: None if v is None else _positive_int(v),
}


def merge(settings: Settings, raw: Any) -> tuple[Settings, list[str]]:
    """`settings` with the keys `raw` sets, and a problem report per bad key."""
    if raw is None:
        return settings, []
    if not isinstance(raw, dict):
        return settings, [f"settings must be an object, got {type(raw).__name__}"]
    if isinstance(raw.get(SECTION), dict):
        raw = raw[SECTION]
    elif not any(_snake(key) in _PARSERS for key in raw):
        # Editors send all their servers' settings to every server: none of
        # these are ours.
        return settings, []
    changes: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        name = _snake(key)
        parse = _PARSERS.get(name)
        if parse is None:
            problems.append(f"unknown setting {key!r} (known: {', '.join(sorted(_PARSERS))})")
            continue
        try:
            changes[name] = parse(value)
        except ValueError as exc:
            problems.append(f"setting {key!r} = {value!r} {exc}; keeping {getattr(settings, name)!r}")
    return dataclasses.replace(settings, **changes), problems
