"""When a completion's answer stops being of use: its deadline.

Hard: the client says so (`deadline_ms`, counted from when the server received
the request). The engine drops a request that cannot finish by then and the
fair queue lets it go as soon as its deadline passes (`DeadlineMissed`, 503):
an answer after it would only be thrown away.

Soft: learned from the session's typing rhythm. An editor asks on every
keystroke, and the answer to one keystroke is stale once the next one comes,
so the usual gap between a session's requests is how long its answer is worth
waiting for. The rhythm is the median of the session's last gaps (a median:
one slow keystroke does not move it), gaps longer than a pause are left out
(the typist stopped to think; that says nothing about their pace). A session
has one from its first gap on: a guess from one gap orders a new typist's
first keystrokes better than none, which would let them wait behind everyone
(four typists starting together: measured in docs/BENCHMARKS.md). A soft deadline only orders
the engine's work (earliest deadline first); nobody is refused for it.

Sessions are the tenant-scoped keys of `tenants.session_key`, so two tenants'
sessions never mix; at most `max_sessions` are remembered, the least recently
seen forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from statistics import median


@dataclass(frozen=True)
class Deadline:
    """A request's deadline as the engine takes it (`GenerationRequest.deadline`, `.deadline_hard`)."""

    at: float | None = None  # time.monotonic() seconds; None: none
    hard: bool = False


NO_DEADLINE = Deadline()


class Rhythm:
    """Each session's typing rhythm, from the gaps between its requests' arrivals."""

    def __init__(self, *, max_sessions: int = 4096, gaps: int = 8, min_gaps: int = 1, pause_s: float = 3.0,
                 floor_s: float = 0.1, ceiling_s: float = 2.0) -> None:
        self.max_sessions = max_sessions
        self.gaps = gaps  # the last this many gaps count
        self.min_gaps = min_gaps  # no rhythm until a session has this many
        self.pause_s = pause_s  # a longer gap is a pause, not the typing pace
        self.floor_s = floor_s
        self.ceiling_s = ceiling_s
        # session -> (its last request, its last gaps, whether it is implicit: `typing`)
        self._sessions: OrderedDict[str, tuple[float, deque[float], bool]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def arrived(self, session: str, now: float, *, implicit: bool = False) -> float | None:
        """A request of `session` arrived at `now`: its rhythm (seconds, within the bounds), or None
        while the session has too few gaps. `implicit`: a session the server made up for a client that
        sent none (service/sessionless.py), one per document; `typing` counts it only while it types."""
        last, gaps, _ = self._sessions.pop(session, (None, None, implicit))
        if gaps is None:
            gaps = deque(maxlen=self.gaps)
        if last is not None and 0.0 <= now - last <= self.pause_s:
            gaps.append(now - last)
        self._sessions[session] = (now, gaps, implicit)  # most recently seen last
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return self._pace(gaps)

    def _pace(self, gaps: deque[float]) -> float | None:
        if len(gaps) < self.min_gaps:
            return None
        return min(max(median(gaps), self.floor_s), self.ceiling_s)

    def typing(self, now: float) -> int:
        """Sessions typing now: those whose last request came within a pause (`pause_s`) of `now`."""
        count = 0
        for last, gaps, implicit in reversed(self._sessions.values()):  # most recently seen first
            if now - last > self.pause_s:
                break
            if not implicit:
                count += 1
            else:
                # One sessionless client that switches documents leaves an implicit session behind per
                # document: one counts only while it types steadily (a rhythm, and a request within two
                # of its gaps), so several people typing count, a person who moved on does not.
                pace = self._pace(gaps)
                count += pace is not None and now - last <= 2 * pace
        return count


def deadline_of(rhythm: Rhythm, session: str | None, received: float, deadline_ms: int | None, *,
                implicit: bool = False) -> Deadline:
    """The deadline of a request received at `received`: the client's own (`deadline_ms`) when it gives
    one, else the session's rhythm after `received` (soft), else none. Every request of a session
    teaches the rhythm, those with a deadline of their own too."""
    pace = rhythm.arrived(session, received, implicit=implicit) if session is not None else None
    if deadline_ms is not None:
        return Deadline(received + deadline_ms / 1000.0, hard=True)
    if pace is not None:
        return Deadline(received + pace, hard=False)
    return NO_DEADLINE
