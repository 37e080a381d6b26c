"""Which running requests a step advances: earliest deadline first, as wide as pays.

An editor's answer is worth something only before the person's next keystroke.
On a CPU a step of W sequences costs much more than a step of one (`costs.py`),
so decoding everything that arrived side by side can make every answer late
together, where one at a time most would have been in time. Each step therefore
plans with the engine's measured costs:

1. Each request has a deadline (`GenerationRequest.deadline`; a request with
   none gets a nominal one `NOMINAL_S` after it arrived, so it is neither
   first nor starved), work left (prompt tokens not yet evaluated, answer tokens
   expected: `costs.AnswerLengths`), and is *feasible* when, run alone from now,
   it would finish by its deadline.
2. A request with a hard deadline (the client's `deadline_ms`) that is not
   feasible is dropped before it costs anything more (`must_drop`). One with a
   soft deadline (learned) is kept, but goes after every feasible one.
3. Order: the requests that can be in time together before the others, then
   by deadline. Which can is Moore and Hodgson's rule (`in_time_together`):
   taken by deadline, one at a time, and whenever one would be late, the
   longest taken so far is left out. That keeps the most requests in time,
   not the earliest: a cold prompt of 200 tokens, feasible alone, does not
   make three keystrokes of a few tokens each late behind it. For each width W the
   plan projects how many requests finish in time if the first W run together
   (the batch narrowing as each finishes, its prompts evaluated first), then
   the rest one at a time; the step takes the W with the most in time, then the
   one that finishes all of them soonest (a wide batch does more per second on
   any machine: it leaves the engine free for the next arrivals sooner), then
   the soonest finishes in sum. So the batch is wide when the deadlines allow
   it and one request at a time when they do not; infeasible requests widen it
   only when none is feasible (decoding a late answer is work thrown away),
   unless its soft deadline passed `PAUSED_S` ago with no newer keystroke:
   the typist paused and waits for it.
4. A request not advanced for `STARVE_S` joins the step anyway: a request
   that is late, or of another tenant, never waits without end. The wait is
   the session's: a keystroke given up unanswered passes it on to the next.

The bench's ceiling (codefill/bench/ceiling.py) simulates the same rule with
every answer's length known: the share it reaches is what this planner could
reach with a perfect guess of the lengths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .costs import StepCosts

# The deadline assumed for a request without one, after its arrival.
NOMINAL_S = 2.0
# A running request is advanced at least this often, whatever its deadline.
STARVE_S = 0.5
# ... counted per session (scheduler.py): a request given up unanswered passes its wait on to its session's
# next one, if that comes within this long (typing on, not back from a pause).
STARVE_CHAIN_S = 3.0
# A soft deadline this far behind with no newer keystroke: the typist has paused, and waits for this answer.
PAUSED_S = 0.1
# A step's prompt chunk may take this long beside decoding sequences (more when their deadlines allow)...
CHUNK_S = 0.03
# ...up to this share of what the tightest of them can spare by the answer-length guess (a guess: half the
# answers are longer than the median it takes).
SPARE_SHARE = 0.35


@dataclass
class Work:
    """A running request as the planner sees it."""

    handle: object
    deadline: float
    prefill: int  # prompt tokens still to evaluate
    tokens: int  # answer tokens expected still
    hard: bool = False
    waited_since: float = 0.0  # when it was last advanced (or arrived)


def finish_alone(w: Work, now: float, costs: StepCosts) -> float:
    """When `w` would finish, run alone from `now` (its first token comes with its prompt's last)."""
    decode_steps = max(w.tokens - (1 if w.prefill else 0), 0)
    return now + (costs.step(1, w.prefill - 1) if w.prefill else 0.0) + decode_steps * costs.decode(1)


def paused(w: Work, now: float) -> bool:
    """A soft deadline passed a while ago and the request is still wanted (no newer keystroke superseded
    it): its typist stopped typing and is waiting for this answer, so it is not thrown-away work."""
    return not w.hard and w.deadline + PAUSED_S <= now


def feasible(w: Work, now: float, costs: StepCosts) -> bool:
    return finish_alone(w, now, costs) <= w.deadline


def must_drop(w: Work, now: float, costs: StepCosts) -> bool:
    """A hard deadline that cannot be met any more, even alone."""
    return w.hard and not feasible(w, now, costs)


def project(ordered: Sequence[Work], width: int, now: float, costs: StepCosts) -> tuple[int, float, float]:
    """(requests in time, when the last finishes, sum of finish times) if the first `width` run
    together, then the rest alone."""
    # A prompt's last token is evaluated in the pass that gives its first answer token, as a decoding
    # sequence's is: its other tokens are the extra ones (as `finish_alone` counts them).
    batch = sorted(ordered[:width], key=lambda w: w.tokens)
    prompt = sum(max(w.prefill - 1, 0) for w in batch)
    t = now + costs.extra(len(batch), prompt)
    in_time, total, done = 0, 0.0, 0
    for i, w in enumerate(batch):  # the batch narrows by one as each (shortest first) finishes
        t += max(w.tokens - done, 0) * costs.decode(len(batch) - i)
        done = max(done, w.tokens)
        in_time += t <= w.deadline
        total += t
    for w in ordered[width:]:
        t = finish_alone(w, t, costs)
        in_time += t <= w.deadline
        total += t
    return in_time, t, total


def in_time_together(works: Sequence[Work], now: float, costs: StepCosts) -> set[int]:
    """The ids of the most requests that finish by their deadlines run one after another from `now`
    (Moore and Hodgson: by deadline, and whenever the last taken would be late, the longest taken so far
    is left out). Each is feasible alone; a request left out may still be, but only at others' cost."""
    taken: list[tuple[float, Work]] = []
    t = now
    for w in sorted(works, key=lambda w: w.deadline):
        seconds = finish_alone(w, 0.0, costs)
        taken.append((seconds, w))
        t += seconds
        if t > w.deadline:
            longest = max(range(len(taken)), key=lambda i: (taken[i][0], i))  # of equals, the latest deadline
            t -= taken.pop(longest)[0]
    return {id(w) for _, w in taken}


def plan(works: Sequence[Work], now: float, costs: StepCosts, max_width: int) -> list[Work]:
    """The requests this step advances, most urgent first (see the module's docstring)."""
    if not works:
        return []
    together = in_time_together(works, now, costs)
    ordered = sorted(works, key=lambda w: (id(w) not in together, not paused(w, now), w.deadline))
    # While some can still be in time, the others do not widen their batch: decoding an answer that
    # comes after its typist's next keystroke is work thrown away, and it slows the step of the ones that
    # can make it. (They still join when starved; with none in time, all may run.) A request whose typist
    # has paused is wanted however late it is: it may widen the batch, after the ones still in time.
    timely = sum(id(w) in together or paused(w, now) for w in ordered) or len(ordered)
    best, best_key = 1, None
    for width in range(1, min(timely, max_width) + 1):
        in_time, last, finish = project(ordered, width, now, costs)
        key = (in_time, -round(last, 6), -finish)
        if best_key is None or key > best_key:
            best, best_key = width, key
    chosen = ordered[:best]
    chosen += [w for w in ordered[best:]
               if now - w.waited_since >= STARVE_S]
    return chosen


def chunk_seconds(decoders: Sequence[Work], now: float, costs: StepCosts) -> float | None:
    """How long this step's prompt chunks may take beside `decoders` (the step's decoding requests): what
    the tightest one that can still make its deadline can spare, at least `CHUNK_S`; None (no limit) when
    none of them can make it any more (their answers are late whatever the step costs). The whole spare
    time, not a share per remaining step: a prompt in the step was chosen because its answer can still
    be in time, and it is sooner done in one long chunk than in many (measured side by side, default
    workload, 4 typists, 2 rounds: 26.6 and 19.7 % answered against 15.1 and 19.0 % with 15 ms a step)."""
    width = len(decoders)
    spare = [w.deadline - (now + w.tokens * costs.decode(width)) for w in decoders]
    spare = [s for s in spare if s > 0]
    if not spare:
        return None
    return max(SPARE_SHARE * min(spare), CHUNK_S)
