"""The replicas behind gateway mode: which one serves an editor session, and
which ones are alive.

Each session (OpenAI `user`) goes to the same replica, because its prefix
cache (vLLM's automatic prefix caching, codefill's KV state) lives there.
Sessions are placed on a hash ring with virtual nodes: a replica that leaves
the ring gives its sessions to the next replicas on the ring and nobody
else's move; when it comes back, its own sessions return to it.

A replica is alive while its `/health` answers 200. A poller asks every
`interval` seconds. A refused connection takes a replica out at once, and so
does a request that cannot reach it; a slow or failed answer to a poll needs
to happen twice in a row (a busy replica is not a dead one). The next
successful poll brings it back.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

log = logging.getLogger("codefill.replicas")
# httpx logs every request at INFO: a health check every few seconds per replica.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

VIRTUAL_NODES = 128
# Failed polls in a row (other than a refused connection) that take a replica out.
FAILED_POLLS_TO_LEAVE = 2


def _hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")


class HashRing:
    """Consistent hashing of keys onto names, `vnodes` points per name."""

    def __init__(self, names: list[str], vnodes: int = VIRTUAL_NODES) -> None:
        if not names:
            raise ValueError("a hash ring needs at least one name")
        points = sorted((_hash(f"{name}#{i}"), name) for name in names for i in range(vnodes))
        self._keys = [p for p, _ in points]
        self._names = [n for _, n in points]
        self._distinct = len(set(names))

    def walk(self, key: str) -> Iterator[str]:
        """Every name once, in ring order from `key`'s point: the first is the
        key's home, the rest its stand-ins in order."""
        start = bisect.bisect(self._keys, _hash(key))
        seen: set[str] = set()
        for i in range(len(self._names)):
            name = self._names[(start + i) % len(self._names)]
            if name not in seen:
                seen.add(name)
                yield name
                if len(seen) == self._distinct:
                    return


@dataclass
class Replica:
    url: str  # base URL, without /v1
    alive: bool = False
    # What the replica serves, from its /v1/models: the model id to send it,
    # and its context length when it says (vLLM and codefill do).
    model: str | None = None
    max_model_len: int | None = None
    in_flight: int = 0
    served: int = 0
    failures: int = 0
    failed_polls: int = 0
    last_error: str | None = None
    changed_at: float = 0.0


class NoReplicaAvailable(Exception):
    pass


class ReplicaPool:
    """Live replicas on a hash ring, and the poller that keeps `alive` true."""

    def __init__(self, urls: list[str], *, api_key: str | None = None, health_interval: float = 2.0,
                 health_timeout: float = 2.0) -> None:
        urls = [u.rstrip("/").removesuffix("/v1") for u in urls]
        for u in urls:
            if not u.startswith(("http://", "https://")):
                raise ValueError(f"upstream {u!r} is not an http:// or https:// URL")
        if len(set(urls)) != len(urls):
            raise ValueError("the same upstream is given twice")
        self.replicas = {u: Replica(u) for u in urls}
        self.ring = HashRing(urls)
        self.health_interval = health_interval
        self.health_timeout = health_timeout
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.AsyncClient(headers=headers,
                                        timeout=httpx.Timeout(connect=health_timeout, read=None, write=30, pool=30),
                                        limits=httpx.Limits(max_connections=None, max_keepalive_connections=64))
        self._poller: asyncio.Task | None = None

    @property
    def live(self) -> list[Replica]:
        return [r for r in self.replicas.values() if r.alive]

    def candidates(self, session: str) -> list[Replica]:
        """Live replicas in the order `session` tries them: its home first."""
        return [self.replicas[u] for u in self.ring.walk(session) if self.replicas[u].alive]

    def mark_dead(self, replica: Replica, reason: str) -> None:
        replica.failures += 1
        replica.last_error = reason
        if replica.alive:
            replica.alive = False
            replica.changed_at = time.monotonic()
            log.warning("upstream %s is out of the ring: %s", replica.url, reason)

    def _mark_alive(self, replica: Replica) -> None:
        if not replica.alive:
            replica.alive = True
            replica.changed_at = time.monotonic()
            log.info("upstream %s is in the ring (model %s)", replica.url, replica.model)

    async def check(self, replica: Replica) -> bool:
        """One health check: /health, and /v1/models until the model is known."""
        try:
            r = await self.client.get(replica.url + "/health", timeout=self.health_timeout)
            if r.status_code != 200:
                raise httpx.HTTPStatusError(f"/health answered {r.status_code}", request=r.request, response=r)
            if replica.model is None:
                models = await self.client.get(replica.url + "/v1/models", timeout=self.health_timeout)
                models.raise_for_status()
                first = models.json()["data"][0]
                replica.model = first["id"]
                replica.max_model_len = first.get("max_model_len")
        except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
            replica.failed_polls += 1
            if (isinstance(exc, httpx.ConnectError) or replica.failed_polls >= FAILED_POLLS_TO_LEAVE
                    or replica.model is None):
                self.mark_dead(replica, f"health check failed: {exc!r}")
            return False
        replica.failed_polls = 0
        self._mark_alive(replica)
        return True

    async def check_all(self) -> None:
        await asyncio.gather(*(self.check(r) for r in self.replicas.values()))

    async def start(self) -> None:
        await self.check_all()
        self._poller = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.health_interval)
            try:
                await self.check_all()
            except Exception:  # the poller must outlive any one bad answer
                log.exception("health polling failed")

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        await self.client.aclose()
