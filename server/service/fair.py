"""Fair sharing of the engine between tenants.

At most `slots` generations (the engine's `max_sequences`) run at once. The
others wait in one queue per tenant; when a slot frees, the tenant whose turn
it is goes next: start-time fair queuing, each tenant's virtual time advancing
by 1/weight per request served, so with equal weights the tenants take turns
(round robin) and one tenant's flood does not starve another's typist.

Sessions: a newer request of a session takes the place of the session's older
one. If the older one waits, it leaves the queue at once (Superseded, 409) and
the newer one keeps its position; if it runs, the newer one takes its slot
straight away and the engine supersedes the older one (every engine does, by
session), so a typist never queues behind their own stale keystroke.

The last free slot: while another tenant has been active in the last minute,
a tenant that already holds slots does not take the last free one while that
tenant holds none: it is kept for it, so another tenant's next keystroke never
waits for one of a flood's requests to finish. A tenant alone uses every slot.

A tenant whose queue was empty starts at the current clock: no credit for
idle time. Weights come from `--tenant-weight` (tenants.py).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from ..engines.base import Superseded

# How long a tenant counts as active after its last request, for the last free slot.
RECENT_S = 60.0

@dataclass(eq=False)
class _Turn:
    tenant: str
    session: str | None
    granted: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    # The slot went on to a newer request of the same session: its end frees nothing.
    handed_over: bool = False


class FairQueue:
    def __init__(self, slots: int, weights: dict[str, float] | None = None) -> None:
        self.slots = max(1, slots)
        self.weights = weights or {}
        self.running = 0
        self._queues: dict[str, deque[_Turn]] = {}
        self._vtime: dict[str, float] = {}
        self._clock = 0.0
        self._waiting: dict[str, _Turn] = {}  # session -> its turn in a queue
        self._holding: dict[str, _Turn] = {}  # session -> its turn holding a slot
        self._held: dict[str, int] = {}  # tenant -> slots it holds
        self._seen: dict[str, float] = {}  # tenant -> when its last request came

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def waiting_by_tenant(self) -> dict[str, int]:
        return {t: len(q) for t, q in self._queues.items() if q}

    @asynccontextmanager
    async def turn(self, tenant: str, session: str | None) -> AsyncIterator[None]:
        """Wait for a slot (raises Superseded if a newer request of the session comes first)."""
        me = _Turn(tenant, session)
        self._enter(me)
        try:
            await asyncio.shield(me.granted)
        except BaseException:
            if me.granted.done() and not me.granted.cancelled() and me.granted.exception() is None:
                self._leave(me)  # granted just as it was cancelled: give the slot back
            else:
                self._forget(me)
            raise
        try:
            yield
        finally:
            self._leave(me)

    def _may_take(self, tenant: str) -> bool:
        free = self.slots - self.running
        if free > 1:
            return True
        if free < 1:
            return False
        if not self._held.get(tenant):
            return True
        now = time.monotonic()  # kept for a recently active tenant that holds none (one that holds a slot
        # hands it to its own next request)
        return not any(t != tenant and now - seen < RECENT_S and not self._held.get(t)
                       for t, seen in self._seen.items())

    def _enter(self, me: _Turn) -> None:
        self._seen[me.tenant] = time.monotonic()
        session = me.session
        if session is not None:
            older = self._waiting.pop(session, None)
            if older is not None:  # the newer request keeps the older one's place in the queue
                queue = self._queues[older.tenant]
                queue[queue.index(older)] = me
                self._waiting[session] = me
                older.granted.set_exception(Superseded("superseded by a newer request of its session "
                                                       "while waiting for the engine"))
                older.granted.exception()  # retrieved: no "never retrieved" warning if nobody waits
                return
            running = self._holding.get(session)
            if running is not None:  # take over its slot; the engine stops the older one
                running.handed_over = True
                self._grant(me, new_slot=False)
                return
        if not self.waiting and self._may_take(me.tenant):
            self._grant(me)
            return
        queue = self._queues.setdefault(me.tenant, deque())
        if not queue:  # a tenant that comes back gets no credit for the time it was away
            self._vtime[me.tenant] = max(self._vtime.get(me.tenant, 0.0), self._clock)
        queue.append(me)
        if session is not None:
            self._waiting[session] = me
        self._dispatch()  # the last free slot may be for this tenant (the others' wait for it)

    def _grant(self, me: _Turn, *, new_slot: bool = True) -> None:
        if me.session is not None:
            self._holding[me.session] = me
        if new_slot:
            self.running += 1
            self._held[me.tenant] = self._held.get(me.tenant, 0) + 1
        me.granted.set_result(None)

    def _leave(self, me: _Turn) -> None:
        if me.session is not None and self._holding.get(me.session) is me:
            del self._holding[me.session]
        if me.handed_over:
            return
        self.running -= 1
        self._held[me.tenant] -= 1
        self._dispatch()

    def _forget(self, me: _Turn) -> None:
        """A waiting request that left (cancelled, timed out, superseded)."""
        queue = self._queues.get(me.tenant)
        if queue is not None and me in queue:
            queue.remove(me)
        if me.session is not None and self._waiting.get(me.session) is me:
            del self._waiting[me.session]
        self._dispatch()

    def _dispatch(self) -> None:
        while self.running < self.slots:
            ready = [t for t, q in self._queues.items() if q and self._may_take(t)]
            if not ready:
                return
            tenant = min(ready, key=lambda t: self._vtime.get(t, 0.0))
            me = self._queues[tenant].popleft()
            self._clock = self._vtime.get(tenant, 0.0)
            self._vtime[tenant] = self._clock + 1.0 / max(self.weights.get(tenant, 1.0), 1e-6)
            if me.session is not None and self._waiting.get(me.session) is me:
                del self._waiting[me.session]
            if me.granted.done():  # cancelled meanwhile
                continue
            self._grant(me)
