"""What a step costs and how long an answer is, learned while serving.

The deadline planner (`deadlines.py`) needs to know how long work takes on
this machine, now: a step's time is modelled as `decode(W)`, the cost of a
step of W sequences (each decoding one token or reading its prompt), plus
the cost of its further tokens (prompt chunks, typed words, drafts). The
first grows with W by less than W (one pass over the weights, W attentions).
The second is not linear at small counts: on a CPU a step of one sequence
costs 9.9 ms with one token, 18.5 with two, 22.7 with four, 31.7 with
eight, 92 with 32 and ~240 with 128 (SmolLM2-135M Q8_0, 2 cores), so a few
further tokens cost 4-9 ms each and a chunk's ~1.8. One rate for all (as
before) was pulled to 5-9 ms a token by the few tokens of each keystroke,
and the planner then took every prompt chunk for 3-4x slower than it is.
So the rate is learned per size class (`size_class`: 1, 2-3, 4-7, 8-15,
16-31, 32 and more further tokens); `per_token` is the largest class's, a
chunk's. Each step the engine times is one observation: a step with no
extra tokens updates `decode(W)`, one with extra tokens updates its size
class's rate from what is left after `decode(W)`. Moving averages, so
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


# The size classes of a step's further tokens, each with a rate of its own: 1, 2-3, 4-7, 8-15, 16-31, 32+.
SIZE_CLASSES = (1, 2, 4, 8, 16, 32)


def size_class(tokens: int) -> int:
    """The size class of `tokens` further tokens in a step (the largest of SIZE_CLASSES not above it)."""
    return max((c for c in SIZE_CLASSES if c <= tokens), default=1)


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
        self._rate: dict[int, float] = dict.fromkeys(SIZE_CLASSES, token_s)  # seconds a further token, by size

    def seed(self, step_s: float, token_s: float) -> None:
        """The first measurements (the engine's start-up probe: a chunk), replacing the defaults. Until a
        smaller size class is seen, its rate is the chunk's: too low, and learned within a few steps."""
        self._one = max(step_s, 1e-4)
        self._rate = dict.fromkeys(SIZE_CLASSES, max(token_s, 1e-6))

    @property
    def per_token(self) -> float:
        """Seconds a further token costs in a chunk (32 tokens or more)."""
        return self._rate[SIZE_CLASSES[-1]]

    def extra(self, tokens: int) -> float:
        """Seconds `tokens` further tokens add to a step."""
        return tokens * self._rate[size_class(tokens)] if tokens > 0 else 0.0

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
        """Seconds of a step: `width` sequences and `extra_tokens` more (prompt, drafts)."""
        return self.decode(width) + self.extra(extra_tokens)

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
                size = size_class(extra_tokens)
                self._rate[size] += ALPHA * (per - self._rate[size])

    def snapshot(self) -> dict[str, float]:
        """For logs and tests: decode step seconds by width, and seconds per extra token."""
        return {**{f"decode_{w}": round(self.decode(w), 5) for w in sorted(self._ratio)},
                "per_token": round(self.per_token, 6),
                **{f"per_token_{c}": round(r, 6) for c, r in self._rate.items() if c != SIZE_CLASSES[-1]}}


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
