"""What a step costs and how long an answer is, learned while serving.

The deadline planner (`deadlines.py`) needs to know how long work takes on
this machine, now: a step's time is modelled as `decode(W)`, the cost of a
step in which W sequences each decode one token, plus `per_token` seconds
for every further token in it (prompt chunks, drafts). On a CPU the second
part is close to linear; the first grows with W by less than W (one pass over
the weights, W attentions). Each step the engine times is one observation:
a step with no extra tokens updates `decode(W)`, one with extra tokens
updates `per_token` from what is left after `decode(W)`. Moving averages, so
the model follows the machine (another process computing beside it, thermal
throttling) within a few dozen steps. A width never seen yet is extrapolated
from the widest one seen, at `WIDTH_GROWTH` of a step per added sequence
(measured here: four sequences cost 2.5-2.8 steps of one).

`AnswerLengths` keeps the tokens of recent answers: the planner assumes a
running request needs the median of them, less what it already has (at least
one more). Answers in the editor are mostly the rest of a line, so the median
is stable; a request that outlives the guess is given one token at a time.
"""

from __future__ import annotations

import statistics
import time
from collections import deque

# A moving average's weight for a new observation.
ALPHA = 0.2
# The cost of each added sequence in a decode step, in steps of one, until measured.
WIDTH_GROWTH = 0.55
# Before anything is measured (the engine measures at start: `seed`).
DEFAULT_STEP_S = 0.03
DEFAULT_TOKEN_S = 0.004
# Answers remembered, and the length assumed before any has finished.
ANSWERS_KEPT = 64
DEFAULT_ANSWER_TOKENS = 8


class StepCosts:
    """`decode(W)` is kept as a step of one (`decode(1)`) times a width's ratio to it, so a machine that
    slows down slows every width; a ratio is learned only from steps of that width, between one step of
    one and W of them (a step that took longer had a hiccup: ggml sizing its buffers for a new batch
    shape the first time, another process), and starts from the extrapolated guess, not from its first
    step. A single slow step must not price a width out of every plan: the planner would never choose it
    again, and so never see what it really costs."""

    def __init__(self, step_s: float = DEFAULT_STEP_S, token_s: float = DEFAULT_TOKEN_S) -> None:
        self._one = step_s
        self._ratio: dict[int, float] = {1: 1.0}  # decode(W) / decode(1), for the widths seen
        self.per_token = token_s

    def seed(self, step_s: float, token_s: float) -> None:
        """The first measurements (the engine's start-up probe), replacing the defaults."""
        self._one = max(step_s, 1e-4)
        self.per_token = max(token_s, 1e-6)

    def ratio(self, width: int) -> float:
        """A step of `width` in steps of one: measured, or extrapolated from the widest measured below."""
        if width in self._ratio:
            return self._ratio[width]
        known = max(w for w in self._ratio if w < width)
        return self._ratio[known] + (width - known) * WIDTH_GROWTH

    def decode(self, width: int) -> float:
        """Seconds of a step in which `width` sequences each decode one token."""
        if width <= 0:
            return 0.0
        return self._one * self.ratio(width)

    def step(self, width: int, extra_tokens: int) -> float:
        """Seconds of a step: `width` decoding sequences and `extra_tokens` more (prompt, drafts)."""
        return self.decode(width) + extra_tokens * self.per_token

    def observe(self, width: int, extra_tokens: int, seconds: float) -> None:
        """One timed step."""
        if seconds <= 0:
            return
        if extra_tokens == 0 and width == 1:
            self._one += ALPHA * (seconds - self._one)
        elif extra_tokens == 0 and width > 1:
            seen = min(max(seconds / self._one, 1.0), float(width))
            guess = self.ratio(width)
            self._ratio[width] = guess + ALPHA * (seen - guess)
        elif extra_tokens > 0:
            per = max(seconds - self.decode(width), 0.0) / extra_tokens
            if per > 0:
                self.per_token += ALPHA * (per - self.per_token)

    def snapshot(self) -> dict[str, float]:
        """For logs and tests: decode step seconds by width, and seconds per extra token."""
        return {**{f"decode_{w}": round(self.decode(w), 5) for w in sorted(self._ratio)},
                "per_token": round(self.per_token, 6)}


def probe(context, costs: StepCosts, *, token: int, chunk: int = 64, steps: int = 3) -> None:
    """Seed `costs` by timing, on sequence 0 of a fresh context, one prompt chunk of `chunk` tokens
    and `steps` one-token steps after it (the best of them); the cells are removed after."""
    started = time.monotonic()
    if context.decode([(0, k, token, k == chunk - 1) for k in range(chunk)]) != 0:
        return
    prompt_s = time.monotonic() - started
    best = float("inf")
    for k in range(steps):
        started = time.monotonic()
        if context.decode([(0, chunk + k, token, True)]) != 0:
            break
        best = min(best, time.monotonic() - started)
    context.remove(0, 0)
    if best < float("inf"):
        costs.seed(best, max(prompt_s - best, 0.0) / chunk)


class AnswerLengths:
    def __init__(self) -> None:
        self._recent: deque[int] = deque(maxlen=ANSWERS_KEPT)
        self._median = DEFAULT_ANSWER_TOKENS

    def observe(self, tokens: int) -> None:
        """An answer that ended on its own (a stop, a filter saw enough, max_tokens)."""
        if tokens > 0:
            self._recent.append(tokens)
            self._median = max(1, round(statistics.median(self._recent)))

    def left(self, generated: int, max_tokens: int) -> int:
        """Tokens a request with `generated` tokens so far is expected still to need (at least one)."""
        return max(1, min(self._median, max_tokens) - generated)
