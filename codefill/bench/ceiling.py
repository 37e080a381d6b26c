"""The ceiling of an open-loop replay: the share of keystrokes that this
machine's measured costs allow an ideal scheduler to answer in time.

The replay's own schedule (workload.py, replay.py) gives every keystroke an
arrival time, a deadline and an amount of work; `simulate` then schedules that
work earliest-deadline-first, step by step, on the measured costs
(step_costs.py), and counts the answers that finish in time. The ratio of a
server's answered share to this ceiling says how close its scheduler is.

The model and its assumptions:
- Arrivals follow the replay exactly: typist i types the places
  `workload[i::typists]` one keystroke every `interval` seconds, so a
  keystroke's deadline is its typist's next keystroke (the replay abandons
  the request then). The last keystroke of a place is the exception: the
  replay waits for its answer, so it counts whenever it finishes (the next
  place is assumed to start on time all the same).
- The engine runs one step at a time. A step advances up to W sequences (its
  width): each decodes one token, and one that has not yet seen its prompt
  evaluates it in that step first (llama.cpp returns the first token's
  logits with the prompt's last one). A step costs `step_seconds[W-1]` (a
  decode step of width W, measured) plus what its further tokens (prompts
  beyond one token a sequence) add to a batch of W tokens: the difference
  of a step of one sequence with W + extra tokens and one with W, from
  `token_seconds` (measured by token count). A few tokens cost more each
  than a chunk's: on a CPU a batch of one token is a matrix-vector product,
  of two or more a matrix product (measured here: 9.9 ms with one token,
  18.5 with two, 31.7 with eight, ~240 with 128). Without `token_seconds`,
  every further token costs 1 / `prefill_tps` (measured on a chunk).
- A keystroke's prompt work is only the tokens its typist's previous prompt
  did not already hold: an ideal KV cache keeps the rest (the suffix first,
  so it survives while the prefix grows; a window sliding down the file keeps
  its shared text). The first keystroke of a place is a cold prompt: the
  prompt stage's own cold window, about `cold_window` tokens before the cursor
  shared out between the typists (`cold_target`: 384 tokens for one typist,
  128 for three or more), as long as the prompt stage makes it (its start is a
  content-defined line near that point: 70-220 tokens at 128 on the default
  workload), or the full prompt where the engine would use that (server/prompt
  `first_prompt_tokens`); growing the window later, while idle, is not counted.
- Its answer is as long as the true rest of the line, in tokens, plus one to
  stop, at most `max_tokens`: the scheduler knows every answer's length.
- The KV cache holds only what was evaluated: a keystroke given up before its
  prompt was evaluated leaves that prompt to its typist's next keystroke at the
  same place (a cold window is paid once, by whichever keystroke gets to it).
- The scheduler: at each step, among the keystrokes that can still finish in
  time if run alone, those that can all be in time together come first (Moore
  and Hodgson's rule: by deadline, leaving out the longest whenever one would
  be late), then the W earliest deadlines run together, with W chosen to
  maximise the answers projected to finish in time (that batch as it shrinks,
  then the rest one at a time). Keystrokes that can no longer finish are not
  answered in time, but their prompts still have to be evaluated for the
  keystrokes after them: the oldest one's prompt is evaluated a chunk a step
  beside the batch, as long as every answer projected in time (the batch's
  and those after it) can spare (at least `CHUNK_S`, at
  most `CHUNK` tokens); a keystroke's work is given up when its typist's next
  keystroke comes. (The engine, server/engines/llama_cpp/deadlines.py, does
  less for late prompts: it advances them every `STARVE_S`; doing it every
  step, as here, answered fewer in time there, measured.) This is a feasible
  schedule, so the machine allows at least this share; it is greedy, not
  proven optimal. Two such rules are simulated, and the better one counts: the
  one above, and one that orders by deadline alone (every job feasible alone
  first) and sizes the late chunk by what the batch alone can spare.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from codefill.server.prompt import cold_target

COLD_WINDOW = 384  # tokens; `serve --cold-window`'s default
CHUNK = 128  # the most prompt tokens a step evaluates of a late keystroke (`serve --step-tokens`' default)
CHUNK_S = 0.03  # ... and the seconds it may always take beside a batch (the engine's deadlines.CHUNK_S)
_OVERLAP_CHARS = 256  # how much of the previous prefix locates it in the next one


@dataclass(frozen=True)
class Costs:
    """Measured engine costs: prompt tokens per second (evaluated in chunks), the seconds
    of one decode step of width 1, 2, ... (one token per sequence), and the seconds of a
    step of one sequence by its token count ((tokens, seconds), ascending)."""

    prefill_tps: float
    step_seconds: tuple[float, ...]
    token_seconds: tuple[tuple[int, float], ...] = ()

    def step(self, width: int) -> float:
        return self.step_seconds[min(width, len(self.step_seconds)) - 1]

    def tokens(self, n: int) -> float:
        """Seconds of a step of one sequence with `n` tokens: interpolated between the measured counts,
        beyond the largest at the chunk rate."""
        points = self.token_seconds or ((1, self.step(1)),)
        if n <= points[0][0]:
            return points[0][1] * n / points[0][0]
        for (n0, s0), (n1, s1) in zip(points, points[1:]):
            if n <= n1:
                return s0 + (s1 - s0) * (n - n0) / (n1 - n0)
        n_last, s_last = points[-1]
        return s_last + (n - n_last) / self.prefill_tps

    def extra(self, width: int, tokens: int) -> float:
        """What `tokens` further tokens (prompts, a late chunk) add to a step of `width` decoding sequences."""
        if tokens <= 0:
            return 0.0
        base = max(width, 1)
        return max(self.tokens(base + tokens) - self.tokens(base), 0.0)

    @property
    def widths(self) -> int:
        return len(self.step_seconds)


@dataclass
class Job:
    """One keystroke's work: `prompt` new tokens, then `answer` tokens, between `arrival` and `deadline`."""

    typist: int
    arrival: float
    deadline: float
    prompt: int
    answer: int
    waited: bool = False  # the typist waits for it: it counts whenever it finishes
    cold: bool = False  # the first keystroke of a place: nothing of an earlier one's prompt carries over
    decoded: int = field(default=0, compare=False)
    evaluated: int = field(default=0, compare=False)  # prompt tokens evaluated (late keystrokes, a chunk a step)
    carried: int = field(default=0, compare=False)  # prompt tokens left to it by its typist's earlier keystrokes

    @property
    def prompt_left(self) -> int:
        return self.prompt + self.carried - self.evaluated if self.decoded == 0 else 0

    @property
    def tokens_left(self) -> int:
        return self.answer - self.decoded


def new_prompt_text(previous: str | None, prefix: str, suffix: str) -> tuple[str, bool]:
    """The text of a keystroke's prompt that its typist's previous prompt (`previous`:
    that keystroke's prefix, None at a new place) did not hold, and whether it is cold."""
    if previous is not None:
        # Without its first line, which slides out of the window when the cursor moves to the next one.
        tail = (previous[previous.find("\n") + 1:] or previous)[-_OVERLAP_CHARS:]
        at = prefix.rfind(tail)
        if tail and at >= 0:
            return prefix[at + len(tail):], False
    return prefix + suffix, True


def place_texts(place) -> list[tuple[str, bool, str]]:
    """Each keystroke of a place (typed by one typist): (its new prompt text, whether it is cold, its true answer)."""
    out, previous = [], None
    for stroke in place.keystrokes:
        out.append((*new_prompt_text(previous, stroke.prefix, stroke.suffix), stroke.expected))
        previous = stroke.prefix
    return out


def texts(workload) -> list[str]:
    """Every text `schedule` counts tokens of, once each (the same for any number of typists)."""
    return list(dict.fromkeys(t for place in workload for new, _, answer in place_texts(place) for t in (new, answer)))


def schedule(workload, *, typists: int, interval: float, count_tokens: Callable[[list[str]], list[int]],
             max_tokens: int = 32, cold_window: int = COLD_WINDOW,
             first_prompt: Callable[[str, str, int], int] | None = None) -> list[Job]:
    """The replay's open-loop keystrokes (workload.py's places) as jobs, in arrival order.
    `count_tokens`: the model's token count of each text. `first_prompt(prefix, suffix, target)`: the
    tokens the engine evaluates for a place's first keystroke with a cold window of `target` tokens (the
    prompt stage's own window, server/prompt `first_prompt_tokens`); without it, the keystroke's text
    counted up to `target`."""
    texts_, shapes = [], []
    for typist in range(typists):
        t = 0.0
        for place in workload[typist::typists]:
            strokes = place_texts(place)
            for k, (new, cold, answer) in enumerate(strokes):
                texts_ += [new, answer]
                shapes.append((typist, t, t + interval, cold, k == len(strokes) - 1, place.keystrokes[k]))
                t += interval
    counts = count_tokens(texts_) if texts_ else []
    target = cold_target(cold_window, typists)
    jobs = []
    for i, (typist, arrival, deadline, cold, waited, stroke) in enumerate(shapes):
        prompt, answer = counts[2 * i], counts[2 * i + 1]
        if cold:
            prompt = first_prompt(stroke.prefix, stroke.suffix, target) if first_prompt else min(prompt, target)
        jobs.append(Job(typist, arrival, deadline, max(1, prompt), max(1, min(answer + 1, max_tokens)), waited,
                        cold))
    jobs.sort(key=lambda j: (j.arrival, j.typist))
    return jobs


def _further(batch: Sequence[Job]) -> int:
    """A step's tokens beyond one a sequence: its prompts' all but last (which gives the first answer token)."""
    return sum(max(j.prompt_left - 1, 0) for j in batch)


def _alone(job: Job, now: float, costs: Costs) -> float:
    """When `job` would finish, run alone from `now`."""
    return now + costs.extra(1, _further([job])) + job.tokens_left * costs.step(1)


def _project(ready: list[Job], width: int, now: float, costs: Costs) -> tuple[int, float, float]:
    """(answers in time, sum of finish times, the least time to spare of those in time) if the first
    `width` of `ready` run together, the batch shrinking as they finish, then the rest one at a time."""
    batch = sorted(ready[:width], key=lambda j: j.tokens_left)
    t = now + costs.extra(len(batch), _further(batch))
    in_time, total, done_steps, spare = 0, 0.0, 0, math.inf
    for i, job in enumerate(batch):  # width shrinks by one as each (shortest first) finishes
        t += (job.tokens_left - done_steps) * costs.step(len(batch) - i)
        done_steps = job.tokens_left
        in_time += job.waited or t <= job.deadline
        spare = min(spare, job.deadline - t) if not job.waited and t <= job.deadline else spare
        total += t
    for job in ready[width:]:
        t = _alone(job, t, costs)
        in_time += job.waited or t <= job.deadline
        spare = min(spare, job.deadline - t) if not job.waited and t <= job.deadline else spare
        total += t
    return in_time, total, spare


def _in_time_together(live: Sequence[Job], now: float, costs: Costs) -> set[int]:
    """The ids of the most jobs that finish in time run one after another from `now`: Moore and Hodgson's
    rule, as the engine's planner (server/engines/llama_cpp/deadlines.py `in_time_together`)."""
    taken: list[tuple[float, Job]] = []
    t = now
    for job in sorted((j for j in live if not j.waited), key=lambda j: (j.deadline, j.arrival)):
        seconds = _alone(job, 0.0, costs)
        taken.append((seconds, job))
        t += seconds
        if t > job.deadline:
            t -= taken.pop(max(range(len(taken)), key=lambda i: (taken[i][0], i)))[0]
    return {id(j) for _, j in taken}


def simulate(jobs: Sequence[Job], costs: Costs, *, together: bool = True) -> int:
    """How many of `jobs` the earliest-deadline-first scheduler answers in time (see the module's docstring);
    `together`: the jobs that can all be in time first (Moore and Hodgson), and late prompts' chunks sized by
    what every answer projected in time can spare; else by deadline alone, and what the batch can spare."""
    jobs = sorted(jobs, key=lambda j: j.arrival)
    for job in jobs:
        job.decoded = job.evaluated = job.carried = 0
    live: list[Job] = []
    late: list[Job] = []  # cannot be in time; their prompts are evaluated in spare steps
    answered, now, nxt = 0, 0.0, 0
    while nxt < len(jobs) or live or late:
        while nxt < len(jobs) and jobs[nxt].arrival <= now:
            new = jobs[nxt]
            for old in [j for j in live + late if j.typist == new.typist and not j.waited]:
                if not new.cold:  # its unevaluated prompt is the next keystroke's to evaluate
                    new.carried += old.prompt_left
                (live if old in live else late).remove(old)
            live.append(new)
            nxt += 1
        late += [j for j in live if not (j.waited or _alone(j, now, costs) <= j.deadline)]
        live = [j for j in live if j.waited or _alone(j, now, costs) <= j.deadline]
        late = [j for j in late if j.prompt_left > 0]  # its prompt is all that is worth doing for it
        if not live and late:  # a step of the oldest late prompt alone
            job = min(late, key=lambda j: j.arrival)
            chunk = min(CHUNK, job.prompt_left)
            now += costs.tokens(chunk)
            job.evaluated += chunk
            continue
        if not live:
            if nxt < len(jobs):
                now = max(now, jobs[nxt].arrival)
            continue
        first = _in_time_together(live, now, costs) if together else {id(j) for j in live}
        ready = sorted(live, key=lambda j: (j.waited, id(j) not in first, j.deadline, j.arrival))
        best, best_key, best_spare = 1, None, math.inf
        for width in range(1, min(len(ready), costs.widths) + 1):  # most in time, then soonest, then narrowest
            in_time, finish, spare = _project(ready, width, now, costs)
            if best_key is None or (in_time, -finish) > best_key:
                best, best_key, best_spare = width, (in_time, -finish), spare
        batch = ready[:best]
        further = _further(batch)
        if late:  # beside the batch, a chunk of the oldest late prompt, as long as every answer in time can spare
            job = min(late, key=lambda j: j.arrival)
            if together:
                spare = best_spare if best_spare < math.inf else CHUNK_S
            else:
                spare = min((j.deadline - now - j.tokens_left * costs.step(best) for j in batch if not j.waited),
                            default=CHUNK_S)
            chunk = min(CHUNK, job.prompt_left, max(1, int(max(spare, CHUNK_S) * costs.prefill_tps)))
            further += chunk
            job.evaluated += chunk
        step = costs.step(best) + costs.extra(best, further)
        now += step
        for job in batch:
            job.decoded += 1
            if job.tokens_left == 0:
                live.remove(job)
                answered += job.waited or now <= job.deadline + 1e-12
    return answered


def share(jobs: Sequence[Job], costs: Costs) -> float | None:
    """The ceiling: the share of `jobs` answered in time, by the better of the two greedy rules (neither is
    better on every workload: within 2 points of each other on seven here, each ahead on some)."""
    if not jobs:
        return None
    return round(max(simulate(jobs, costs, together=rule) for rule in (True, False)) / len(jobs), 3)


def ratio(answered: float | None, ceiling: float | None) -> float | None:
    """A server's answered share as a fraction of the ceiling."""
    if answered is None or not ceiling or math.isnan(ceiling):
        return None
    return round(answered / ceiling, 2)
