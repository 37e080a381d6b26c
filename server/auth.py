"""API keys: who may call /v1/*, and under which name.

Keys come from settings (`NAME=KEY` or `NAME=sha256:HEX`) and from a key file
of `NAME sha256:HEX` lines (`codefill keys create` appends to it, so a key is
never stored in clear). Only SHA-256 digests are kept in memory too. With no
keys the server is open, which is the default on loopback only
(`check_open_mode`). A request's key name lands in `scope["state"]["key"]`
for limits, logs and metrics.

Probes (`/health`, `/ready`), `/metrics`, the API docs and the playground page
are open to everyone; `/v1/*` needs a key, checked before any body is read
(401). `codefill serve` refuses open mode off loopback unless `--allow-open`.
`/admin/*` takes only the admin key (tenants.py, api/admin.py).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

from .api.errors import error_body_for
from .logs import key_var
from .tenants import digest

OPEN_NAME = "anonymous"
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
# Paths anyone may read: probes, metrics, the docs and the playground page (its API calls carry the key).
_PUBLIC_PREFIXES = ("/health", "/ready", "/metrics", "/docs", "/redoc", "/openapi.json", "/playground")
# The admin API takes the admin key only (--admin-key), never a tenant's.
_ADMIN_PREFIX = "/admin/"


class KeyError_(ValueError):
    """A key entry that cannot be read."""


class KeyStore:
    """Key digests -> names."""

    def __init__(self, entries: Iterable[tuple[str, str]] = ()) -> None:
        self._names: dict[str, str] = {}
        for name, hexdigest in entries:
            self.add(name, hexdigest)

    def add(self, name: str, hexdigest: str) -> None:
        if not _NAME.match(name):
            raise KeyError_(f"key name {name!r}: use letters, digits and _ . @ - (at most 64)")
        if not re.fullmatch(r"[0-9a-f]{64}", hexdigest):
            raise KeyError_(f"key {name!r}: sha256: must be followed by 64 lowercase hex digits")
        self._names[hexdigest] = name

    def __len__(self) -> int:
        return len(self._names)

    def name_of(self, key: str) -> str | None:
        wanted = digest(key)
        for known, name in self._names.items():
            if hmac.compare_digest(known, wanted):
                return name
        return None

    @classmethod
    def load(cls, specs: Iterable[str] = (), file: Path | None = None) -> KeyStore:
        store = cls()
        for i, spec in enumerate(specs):
            name, sep, key = spec.partition("=")
            if not sep:  # a bare key: named by its position
                name, key = f"key{i + 1}", spec
            store.add(name.strip(), _entry_digest(key.strip(), name))
        if file is not None:
            for n, line in enumerate(Path(file).read_text().splitlines(), 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                parts = line.split()
                if len(parts) != 2 or not parts[1].startswith("sha256:"):
                    raise KeyError_(f"{file}:{n}: expected 'NAME sha256:HEX'")
                store.add(parts[0], parts[1].removeprefix("sha256:"))
        return store


def _entry_digest(key: str, name: str) -> str:
    if key.startswith("sha256:"):
        return key.removeprefix("sha256:")
    if len(key) < 8:
        raise KeyError_(f"key {name!r} is shorter than 8 characters")
    return digest(key)


def create_key(name: str, file: Path) -> str:
    """A new random key for `name`; its digest is appended to `file`, the key itself returned (shown once)."""
    if not _NAME.match(name):
        raise KeyError_(f"key name {name!r}: use letters, digits and _ . @ - (at most 64)")
    if file.exists() and any(line.split()[:1] == [name] for line in file.read_text().splitlines()):
        raise KeyError_(f"{file} already has a key named {name!r}")
    key = "cf-" + secrets.token_urlsafe(32)
    file.parent.mkdir(parents=True, exist_ok=True)
    with open(file, "a") as f:
        f.write(f"{name} sha256:{digest(key)}\n")
    file.chmod(0o600)
    return key


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_open_mode(host: str, keys: KeyStore, allow_open: bool) -> str | None:
    """Why serving would be unsafe, or None: no keys on a non-loopback interface needs `allow_open`."""
    if len(keys) or allow_open or is_loopback(host):
        return None
    return (f"refusing to serve {host} without API keys: anyone who can reach it could use it. "
            "Give keys (--api-key NAME=KEY, --api-keys-file FILE; `codefill keys create NAME`) "
            "or pass --allow-open.")


class ApiKeyAuth:
    """ASGI middleware: 401 (an OpenAI error) for /v1/* without a known key,
    unless the store is empty (open mode). Sets `state["key"]` to the key's name.
    /admin/* takes the admin key only (`is_admin`): 401 without a key, 403 with
    another (or when no admin key is set), before any body is read."""

    def __init__(self, app, keys: KeyStore, is_admin=None) -> None:
        self.app = app
        self.keys = keys
        self.is_admin = is_admin  # key -> bool; None: no admin key, the admin API is off

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = scope.setdefault("state", {})
        if scope["path"].startswith(_ADMIN_PREFIX):
            return await self._admin(scope, receive, send, state)
        if not len(self.keys) or scope["method"] == "OPTIONS" or scope["path"].startswith(_PUBLIC_PREFIXES):
            state["key"] = OPEN_NAME
            key_var.set(OPEN_NAME)
            return await self.app(scope, receive, send)
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return await _unauthorized(send, "Missing API key: send 'Authorization: Bearer YOUR_KEY'.",
                                       "missing_api_key", scope["path"])
        name = self.keys.name_of(token.strip())
        if name is None:
            return await _unauthorized(send, "Incorrect API key provided.", "invalid_api_key", scope["path"])
        state["key"] = name
        key_var.set(name)
        return await self.app(scope, receive, send)

    async def _admin(self, scope, receive, send, state):
        if self.is_admin is None:
            return await _unauthorized(send, "The admin API is off: start the server with --admin-key.",
                                       "admin_api_disabled", status=403)
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return await _unauthorized(send, "Missing admin key: send 'Authorization: Bearer ADMIN_KEY'.",
                                       "missing_api_key")
        if not self.is_admin(token.strip()):
            return await _unauthorized(send, "This key may not use the admin API.", "not_admin", status=403)
        state["key"] = "admin"
        key_var.set("admin")
        return await self.app(scope, receive, send)


async def _unauthorized(send, message: str, code: str, path: str = "", status: int = 401) -> None:
    body = json.dumps(error_body_for(path, status, message, code=code)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b"Bearer")]})
    await send({"type": "http.response.body", "body": body})
