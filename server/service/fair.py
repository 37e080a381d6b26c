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

Overload sheds, it does not queue: an answer that comes after the editor's
next keystroke is thrown away, so waiting for it only makes the queue longer.
A request with a hard deadline (`deadline_ms`, service/deadlines.py) leaves
the queue the moment that deadline passes (`DeadlineMissed`, 503). And
`admit` refuses a request at once (503 `overloaded`, with `Retry-After`) when
its projected answer time is longer than it can afford: its hard deadline, or
else `--max-queue-wait` seconds (0: never). The projection is the engine work
ahead of it and its own: its tenant's requests (running and waiting), as many
of each other tenant's as take turns with them, and itself, each at the
engine's measured cost of a request: the share of the engine a request had
while it ran (the engine's time split evenly between the requests running at
each moment; an EWMA over recent requests, cancelled ones included: that is
what an admitted request costs). So under load the engine runs
only as many requests side by side as can be answered within the bound: a
wide batch of cold prompts makes every one of them slow. A request is never
shed before a request has been measured, nor when nothing of its own tenant
or another's is ahead of it. `Retry-After` says when the work ahead of it
will have drained enough for it to fit; so does a request's 503
`deadline_exceeded` (`retry_after`), whether its deadline passed here or in
the engine.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from ..engines.base import DeadlineMissed, Superseded
from ..errors import APIError

# How long a tenant counts as active after its last request, for the last free slot.
RECENT_S = 60.0
# Weight of the newest request in the engine's cost of a request (EWMA): about the last ten count.
COST_EWMA = 0.2


def retry_after(answer: float, afford: float) -> dict[str, str]:
    """When a request whose answer would take `answer` seconds, and may take `afford`, would fit: once the
    excess has drained, at least a second."""
    return {"Retry-After": str(max(1, math.ceil(answer - max(afford, 0.0))))}


def overloaded(answer: float, afford: float) -> APIError:
    """The refusal of a request whose answer would take `answer` seconds, more than the `afford` it may."""
    return APIError(503, f"The server is overloaded: this request's answer would take about {answer:.1f} s, "
                    "longer than its deadline (deadline_ms) or the server's --max-queue-wait allow; try again "
                    "later.", code="overloaded", headers=retry_after(answer, afford))


@dataclass(eq=False)
class _Turn:
    tenant: str
    session: str | None
    deadline: float | None = None  # hard (time.monotonic()): it leaves the queue when this passes
    granted: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    # The slot went on to a newer request of the same session: its end frees nothing.
    handed_over: bool = False
    work_at: float = 0.0  # the queue's work clock when it got its slot
    expiry: asyncio.TimerHandle | None = None  # its deadline's timer while it waits


class FairQueue:
    def __init__(self, slots: int, weights: dict[str, float] | None = None, *, max_wait: float = 0.0) -> None:
        self.slots = max(1, slots)
        self.weights = weights or {}
        self.max_wait = max_wait  # seconds a request without a deadline may take to answer; 0: any
        self.cost_s: float | None = None  # the engine's time per request (EWMA); None: none measured yet
        self.running = 0
        # Work clock: the engine time each running request has had, summed over the queue's life (it
        # advances by dt / running while requests run). A request's cost is its advance while it ran.
        self._work = 0.0
        self._ticked = time.monotonic()
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

    def projected(self, tenant: str) -> float | None:
        """Seconds until a request of `tenant` arriving now would be answered, from the engine work ahead
        of it and its own (see the module's docstring); None: nothing is ahead of it, or no request has
        been measured yet."""
        if self.cost_s is None:
            return None
        counts = self.waiting_by_tenant()
        for t, held in self._held.items():
            counts[t] = counts.get(t, 0) + held
        own = counts.get(tenant, 0)
        ahead = own + sum(min(n, own + 1) for t, n in counts.items() if t != tenant)
        if ahead == 0:
            return None
        return (ahead + 1) * self.cost_s

    def retry_after(self, tenant: str | None, budget: float) -> dict[str, str]:
        """`Retry-After` for a request of `tenant` dropped at its deadline (`budget` seconds after it came):
        when the work ahead of a request like it will have drained enough for it to fit, as `admit`
        says, and at least a second. Without it, a client asked again at once, and one whose requests
        could not fit sent them as fast as they were dropped (9 requests a second became 81 under the
        load test with the editors' deadline)."""
        return retry_after(self.projected(tenant) or 0.0, budget)

    def admit(self, tenant: str, session: str | None, deadline: float | None = None) -> None:
        """Raise 503 `overloaded` (Retry-After) if the request's answer would take longer than it can
        afford: until its hard `deadline` (time.monotonic()), or else `max_wait`. A session's newer
        request takes its older one's place or slot, so it is never refused."""
        if session is not None and (session in self._waiting or session in self._holding):
            return
        if deadline is None and self.max_wait <= 0:
            return
        answer = self.projected(tenant)
        if answer is None:
            return
        afford = deadline - time.monotonic() if deadline is not None else self.max_wait
        if answer > afford:
            raise overloaded(answer, afford)

    @asynccontextmanager
    async def turn(self, tenant: str, session: str | None, deadline: float | None = None) -> AsyncIterator[None]:
        """Wait for a slot (raises Superseded if a newer request of the session comes first, DeadlineMissed
        if the hard `deadline`, time.monotonic() seconds, passes first)."""
        me = _Turn(tenant, session, deadline)
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
                self._unwatch(older)
                self._watch(me)
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
        self._watch(me)
        self._dispatch()  # the last free slot may be for this tenant (the others' wait for it)

    def _watch(self, me: _Turn) -> None:
        """A waiting turn with a deadline leaves the queue when it passes."""
        if me.deadline is not None:
            delay = max(0.0, me.deadline - time.monotonic())
            me.expiry = asyncio.get_running_loop().call_later(delay, self._expire, me)

    def _unwatch(self, me: _Turn) -> None:
        if me.expiry is not None:
            me.expiry.cancel()
            me.expiry = None

    def _expire(self, me: _Turn) -> None:
        me.expiry = None
        if me.granted.done():
            return
        me.granted.set_exception(DeadlineMissed("this completion's deadline (deadline_ms) passed while it waited "
                                                "for the engine; ask again, with a later deadline if it is still "
                                                "wanted"))
        me.granted.exception()  # retrieved: no "never retrieved" warning if nobody waits
        self._forget(me)

    def _tick(self) -> None:
        """Advance the work clock to now."""
        now = time.monotonic()
        if self.running:
            self._work += (now - self._ticked) / self.running
        self._ticked = now

    def _grant(self, me: _Turn, *, new_slot: bool = True) -> None:
        self._unwatch(me)
        self._tick()
        me.work_at = self._work
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
        self._tick()
        cost = self._work - me.work_at  # cancelled and dropped ones too: the engine time a request takes
        self.cost_s = cost if self.cost_s is None else self.cost_s + COST_EWMA * (cost - self.cost_s)
        self.running -= 1
        self._held[me.tenant] -= 1
        self._dispatch()

    def _forget(self, me: _Turn) -> None:
        """A waiting request that left (cancelled, timed out, superseded, past its deadline)."""
        self._unwatch(me)
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
