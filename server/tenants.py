"""Tenants: who may reuse whose cached state, how the engine is shared, and
the admin key.

A tenant is an API key's name ("anonymous" in open mode). Sessions and
typing-through memory are always per tenant (`session_key(tenant, user)` here).
KV / prefix caches are reused only between requests of the same cache salt:
by default the salt is the tenant itself, and an operator may name groups of
tenants that share one (`--share-cache alice+bob`), e.g. a team's keys.
Weights give a tenant a larger share of the engine when it is busy
(service/fair.py). The admin key (kept as a SHA-256 digest) opens /admin/*.

Where each piece is used:
- Isolation: everything keyed by session (supersede, typing-through, saved
  KV states, the gateway's routing) takes `session_key(tenant, user)`; KV and
  prefix reuse take `GenerationRequest.cache_salt`, the tenant's name or its
  group's (`salt_of`; the members joined by `+`).
- Sharing the engine, in two places: `FairQueue` (service/fair.py) decides which
  request gets one of the engine's `max_sequences` slots (llama.cpp
  `--sequences`, vLLM `--max-num-seqs`, the gateway 64), and inside the
  llama.cpp engine each step's tokens are split between tenants
  (engines/llama_cpp/shares.py). `GenerationRequest.tenant` and `.weight`
  (`--tenant-weight`) carry what the engine needs.
- Admin API (api/admin.py): `GET /admin/cache`, `POST /admin/cache/drop`.
- Naming (`scoped`, `salt_covers`, `session_key`): how a session sits inside
  its tenant and a request's salt inside its tenant's. Engines import these
  (the llama.cpp engine drops a salt's states by `salt_covers`) rather than
  being handed them: the naming is one fixed rule, and this module imports
  nothing of the server, so an engine that imports it imports no HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field


def digest(key: str) -> str:
    """What the server keeps of an API key (auth.py) or the admin key: its SHA-256, in hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def scoped(outer: str, inner: str) -> str:
    """`inner` as a name inside `outer`: a session inside its tenant
    (`session_key`), or a request's own `cache_salt` (vLLM's field;
    a gateway in front of codefill sends one) narrowing a tenant's cache salt,
    never widening it. Injective: the outer name's length comes first."""
    return f"{len(outer)}:{outer}/{inner}"


def salt_covers(salt: str | None, candidate: object) -> bool:
    """Whether `candidate` is `salt` or a salt narrowed from it (`scoped`): what
    dropping `salt`'s cached state must drop too."""
    if candidate == salt:
        return True
    return salt is not None and isinstance(candidate, str) and candidate.startswith(scoped(salt, ""))




@dataclass
class TenantSettings:
    # tenant -> the cache salt it shares with the other members of its group
    groups: dict[str, str] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    admin_digest: str | None = None

    def salt_of(self, tenant: str, request_salt: str | None = None) -> str:
        """The tenant's cache salt (its sharing group's), narrowed by a request's own `cache_salt`
        (vLLM's field; a gateway in front of codefill sends it): never widened past the tenant."""
        salt = self.groups.get(tenant, tenant)
        return salt if request_salt is None else scoped(salt, request_salt)

    def is_admin(self, key: str) -> bool:
        return self.admin_digest is not None and hmac.compare_digest(self.admin_digest, digest(key))

    @classmethod
    def build(cls, *, share_cache: Iterable[str] = (), weights: Iterable[str] = (),
              admin_key: str | None = None) -> TenantSettings:
        """From `--share-cache NAME+NAME...` groups, `--tenant-weight NAME=W` entries and the admin
        key (clear, or sha256:HEX); ValueError names what is wrong."""
        groups: dict[str, str] = {}
        for spec in share_cache:
            members = sorted({m.strip() for m in spec.split("+") if m.strip()})
            if len(members) < 2:
                raise ValueError(f"--share-cache {spec!r}: name two or more API key names joined by '+'")
            salt = "+".join(members)
            for name in members:
                if name in groups:
                    raise ValueError(f"--share-cache: {name!r} is in two groups; a key shares with one group")
                groups[name] = salt
        parsed: dict[str, float] = {}
        for spec in weights:
            name, sep, value = spec.partition("=")
            try:
                weight = float(value)
            except ValueError:
                weight = -1.0
            if not sep or not name.strip() or not 0 < weight <= 1000:
                raise ValueError(f"--tenant-weight {spec!r}: expected NAME=WEIGHT with 0 < WEIGHT <= 1000")
            parsed[name.strip()] = weight
        admin = None
        if admin_key:
            if admin_key.startswith("sha256:"):
                admin = admin_key.removeprefix("sha256:")
                if len(admin) != 64 or any(c not in "0123456789abcdef" for c in admin):
                    raise ValueError("--admin-key sha256: must be followed by 64 lowercase hex digits")
            elif len(admin_key) < 16:
                raise ValueError("--admin-key must be at least 16 characters")
            else:
                admin = digest(admin_key)
        return cls(groups, parsed, admin)


def session_key(tenant: str | None, user: str | None) -> str | None:
    """An editor session as engines, caches and routing key it: the client's
    `user` inside the authenticated tenant, so two API keys that send the same
    `user` never share a session. Injective: the tenant's length comes first."""
    return None if user is None else scoped(tenant or "", user)


def forget_sessions(store: dict, *, session: str | None = None, session_prefix: str | None = None) -> int:
    """Drop one session's entry of `store` (keyed by `session_key`), or every session's whose key starts
    with `session_prefix` (a tenant's: `session_key(tenant, "")`); how many went."""
    if session is not None:
        return int(store.pop(session, None) is not None)
    gone = [k for k in store if session_prefix is not None and k.startswith(session_prefix)]
    for k in gone:
        del store[k]
    return len(gone)
