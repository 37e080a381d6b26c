"""What a step costs and how long an answer is, learned while serving.

The deadline planner (`deadlines.py`) needs to know how long work takes on
this machine, now: a step's time is modelled as `decode(W)`, the cost of a
step in which W sequences each decode one token, plus `extra(W, n)`, what n
further tokens in it add (prompt chunks, drafts). Both are kept in steps of
one (`decode(1)`), so a machine that slows down slows every estimate.

- `decode(W)` grows with W by less than W (one pass over the weights, W
  attentions). A width never seen yet is extrapolated from the widest one
  seen, at `WIDTH_GROWTH` of a step per added sequence (measured here: four
  sequences cost 2.5-2.8 steps of one).
- `extra(W, n)` comes from a table of what a step of one sequence costs by
  its token count (`TOKEN_COUNTS`, interpolated between them; beyond the
  largest, in proportion): n tokens beside W add the step of W + n tokens
  less the step of W. On a CPU the first few tokens cost far more each than
  a chunk's (one token is a matrix-vector product, two or more a matrix
  product): measured here, a step of two tokens costs ~1.9 of one, a chunk
  of 128 ~2.8 ms a token. A single rate per token, learned from both, priced
  prompt chunks at 6-14 ms a token (the drafts' steps pulled it up), sized
  chunks two to four times too small, and thought cold prompts hopeless.

The engine measures both at start (`probe`). Each step it times is one
observation: a step with no extra tokens updates `decode(W)`, one with extra
tokens the table around W + n, from what is left after `decode(W)`. Moving
averages, so the model follows the machine (another process computing
beside it, thermal throttling) within a few dozen steps.

`AnswerLengths` keeps the tokens of each tenant's recent answers: the planner
assumes a running request needs the median of its tenant's (answers left
while decoding counted as at least as long as they got: `survival_median`),
less what it already has (at least one more). Answers in the editor are
mostly the rest of a line, so the median is stable; a request that outlives
the guess is given one token at a time.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from itertools import groupby

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
TENANTS_KEPT = 1024  # tenants whose answer lengths are remembered
# The token counts of one sequence's step whose cost the table keeps. The probe times PROBED (the better
# of two up to 16 tokens, where a hiccup weighs most; the whole probe ~0.75 s here, 0.4 s without the
# table); the rest start interpolated, or in proportion to the largest, and are learned while serving.
TOKEN_COUNTS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
PROBED = (2, 4, 8, 16, 32, 64)


class StepCosts:
    """`decode(W)` is kept as a step of one (`decode(1)`) times a width's ratio to it, so a machine that
    slows down slows every width; a ratio is learned only from steps of that width, between one step of
    one and W of them (a step that took longer had a hiccup: ggml sizing its buffers for a new batch
    shape the first time, another process), and starts from the extrapolated guess, not from its first
    step. A single slow step must not price a width out of every plan: the planner would never choose it
    again, and so never see what it really costs. The table of steps by token count is kept the same
    way: in steps of one, each observation within one step of one and n of them."""

    def __init__(self, step_s: float = DEFAULT_STEP_S, token_s: float = DEFAULT_TOKEN_S) -> None:
        self._one = step_s
        self._ratio: dict[int, float] = {1: 1.0}  # decode(W) / decode(1), for the widths seen
        self._counts: list[float] = []  # a step of one sequence with TOKEN_COUNTS[i] tokens / decode(1)
        self.seed(step_s, token_s)

    def seed(self, step_s: float, token_s: float, by_count: dict[int, float] | None = None) -> None:
        """The first measurements (the engine's start-up probe), replacing the defaults: a step of one
        token, and either seconds by token count (`by_count`: a step of one sequence with n tokens) or,
        without them, `token_s` for each further token."""
        if by_count:
            # More tokens never cost less: a step of one timed dearer than a step of more was disturbed
            # (another process computing beside the probe; seen under a whole test suite: 3.5 s for a
            # step of one, less for steps of 2-64), and at its time the whole table would be one step of
            # one, every prompt chunk free. The cheapest step of more is the step of one's bound.
            step_s = min(step_s, *by_count.values())
        self._one = max(step_s, 1e-4)
        token_s = max(token_s, 1e-6)
        linear = [1.0 + (n - 1) * token_s / self._one for n in TOKEN_COUNTS]
        if not by_count:
            self._counts = linear
            return
        timed = sorted((n, max(s, 1e-6) / self._one) for n, s in by_count.items() if n >= 1)
        counts = [1.0]
        for n in TOKEN_COUNTS[1:]:
            below = [(m, r) for m, r in timed if m <= n]
            above = [(m, r) for m, r in timed if m >= n]
            if below and above and below[-1][0] != above[0][0]:
                (m0, r0), (m1, r1) = below[-1], above[0]
                ratio = r0 + (r1 - r0) * (n - m0) / (m1 - m0)
            elif below:  # at a timed count, or beyond the largest: in proportion to it
                m0, r0 = below[-1]
                ratio = r0 * n / m0
            else:
                ratio = linear[len(counts)]
            counts.append(max(ratio, counts[-1]))
        self._counts = counts

    def reseed(self, step_s: float) -> None:
        """A step of one measured again (the engine's probe when idle after dropping requests): every
        estimate follows it, the table's shape kept."""
        self._one = max(step_s, 1e-4)

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

    def _tokens(self, n: float) -> float:
        """A step of one sequence with `n` tokens, in steps of one."""
        if n <= 1:
            return max(n, 0.0)
        for i in range(1, len(TOKEN_COUNTS)):
            if n <= TOKEN_COUNTS[i]:
                n0, n1 = TOKEN_COUNTS[i - 1], TOKEN_COUNTS[i]
                return self._counts[i - 1] + (self._counts[i] - self._counts[i - 1]) * (n - n0) / (n1 - n0)
        return self._counts[-1] * n / TOKEN_COUNTS[-1]

    def extra(self, width: int, tokens: int) -> float:
        """Seconds that `tokens` further tokens (prompt chunks, drafts) add to a step of `width` decoding
        sequences (a step of prompt alone: width 1, its first token the step's own)."""
        if tokens <= 0:
            return 0.0
        base = max(width, 1)
        return self._one * max(self._tokens(base + tokens) - self._tokens(base), 0.0)

    def room(self, width: int, seconds: float, most: int) -> int:
        """The most further tokens (at least one, at most `most`) that add at most `seconds` to a step of
        `width`: a prompt chunk sized in time."""
        lo, hi = 1, max(most, 1)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.extra(width, mid) <= seconds:
                lo = mid
            else:
                hi = mid - 1
        return lo

    @property
    def per_token(self) -> float:
        """Seconds a token of a whole chunk (the largest count kept) costs: for logs."""
        return self.extra(1, TOKEN_COUNTS[-1] - 1) / (TOKEN_COUNTS[-1] - 1)

    def step(self, width: int, extra_tokens: int) -> float:
        """Seconds of a step: `width` decoding sequences and `extra_tokens` more (prompt, drafts)."""
        return self.decode(width) + self.extra(width, extra_tokens)

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
            # As if one sequence's step of W + n tokens: what is left after decode(W), on top of a step of W.
            base = max(width, 1)
            n = base + extra_tokens
            seen = (seconds - self.decode(width)) / self._one + self._tokens(base)
            seen = min(max(seen, self._tokens(base)), float(n))
            change = ALPHA * (seen - self._tokens(n))
            if n >= TOKEN_COUNTS[-1]:  # beyond the table: its largest count, in proportion
                self._counts[-1] += change * TOKEN_COUNTS[-1] / n
            else:  # the two counts around n, each by its weight in the interpolation
                i = next(k for k in range(1, len(TOKEN_COUNTS)) if n <= TOKEN_COUNTS[k])
                f = (n - TOKEN_COUNTS[i - 1]) / (TOKEN_COUNTS[i] - TOKEN_COUNTS[i - 1])
                if i - 1 > 0:  # a step of one token is decode(1) itself
                    self._counts[i - 1] += change * (1 - f)
                self._counts[i] += change * f
            for k in range(1, len(self._counts)):  # more tokens never cost less
                self._counts[k] = max(self._counts[k], self._counts[k - 1])

    def snapshot(self) -> dict[str, float]:
        """For logs and tests: decode step seconds by width, seconds of a step of one sequence by token
        count, and seconds per token of a chunk."""
        return {**{f"decode_{w}": round(self.decode(w), 5) for w in sorted(self._ratio)},
                **{f"tokens_{n}": round(self._one * r, 5) for n, r in zip(TOKEN_COUNTS, self._counts)},
                "per_token": round(self.per_token, 6)}


def probe(context, costs: StepCosts, *, token: int, chunk: int = 64, steps: int = 3, table: bool = True) -> None:
    """Seed `costs` by timing, on sequence 0 of a fresh context, one prompt chunk of `chunk` tokens, then
    `steps` one-token steps after it (the best of them) and, with `table`, a step of each count of
    PROBED tokens and the `steps` one-token steps again (a second chance for a disturbed start; `seed`
    bounds the step of one by the cheapest step of more); the cells are removed after. Without `table`
    only the step of one is measured again (`reseed`)."""
    if context.decode([(0, k, token, k == chunk - 1) for k in range(chunk)]) != 0:
        return

    def timed(n: int) -> float:  # a step of n tokens at the chunk's depth, then taken back
        started = time.monotonic()
        rc = context.decode([(0, chunk + k, token, k == n - 1) for k in range(n)])
        seconds = time.monotonic() - started
        context.remove(0, chunk)
        return seconds if rc == 0 else float("inf")

    best = min(timed(1) for _ in range(steps))
    by_count = {}
    if table:
        for n in PROBED:
            by_count[n] = min(timed(n), timed(n)) if n <= 16 else timed(n)
        best = min(best, *(timed(1) for _ in range(steps)))  # and again after it: a second chance
    context.remove(0, 0)
    if best == float("inf") or any(s == float("inf") for s in by_count.values()):
        return
    if table:
        costs.seed(best, by_count[max(by_count)] / max(by_count), {1: best, **by_count})
    else:
        costs.reseed(best)


def survival_median(samples, above: int = 0) -> int | None:
    """The median of answer lengths some of which are only known to be at least so long (answers left
    while decoding: censored), among the answers longer than `above` tokens: the smallest length at which
    the Kaplan-Meier estimate of the share of them longer than it falls to one half; where it never does,
    the longest seen; None where no answer was longer than `above`. With every answer complete and
    `above` 0 it is the lower median."""
    samples = sorted(s for s in samples if s[0] > above)
    if not samples:
        return None
    at_risk, longer = len(samples), 1.0
    for length, group in groupby(samples, key=lambda s: s[0]):
        group = list(group)
        ended = sum(1 for _, complete in group if complete)
        if ended:
            longer *= 1 - ended / at_risk
            if longer <= 0.5:
                return length
        at_risk -= len(group)
    return samples[-1][0]


class AnswerLengths:
    """The planner's guess of a running answer's length, one per tenant. Answers that end on their own
    are the short ones: most requests are left while decoding (their typist's next word came, a newer
    keystroke superseded them, a deadline dropped them), longer answers more often. The median of complete
    answers alone was biased short (5 tokens, four typists on the default workload, where counting each
    answer left at n tokens as "at least n" gives 8: `survival_median`), so the planner took requests for
    closer to done than they were.

    A running answer that has already outlived the guess is guessed again from the answers at least as
    long as it (their median, `survival_median(above=generated)`), not taken for one token from done at
    every step: answer lengths have a long tail, and an answer that has run past the usual length usually
    runs on. (Traced: a request decoding 17 tokens, each step planned as its last, while three others'
    prompts waited behind it; it missed its deadline anyway.) Past the longest answer seen, the usual
    length again.

    Each tenant's guess comes from its own answers only (the default until it has one): with one guess for
    all, a key that asked for long answers made the planner take every other key's requests for longer,
    reordering and dropping them. At most TENANTS_KEPT tenants are remembered, the least recently seen
    forgotten first."""

    def __init__(self) -> None:
        # tenant -> its recent answers, the most recently seen tenant last; and each tenant's guesses by
        # tokens generated so far, worked out when first asked for
        self._tenants: OrderedDict[str, deque[tuple[int, bool]]] = OrderedDict()
        self._guesses: dict[str, dict[int, int]] = {}

    def observe(self, tokens: int, complete: bool = True, tenant: str = "") -> None:
        """An answer of `tenant` that ended on its own (a stop, a filter saw enough, max_tokens:
        `complete`), or one left after `tokens` (it would have been at least that long; one left before its
        first token says nothing)."""
        if tokens <= 0:
            return
        recent = self._tenants.pop(tenant, None) or deque(maxlen=ANSWERS_KEPT)
        recent.append((tokens, complete))
        self._tenants[tenant] = recent
        self._guesses[tenant] = {}
        while len(self._tenants) > TENANTS_KEPT:
            gone, _ = self._tenants.popitem(last=False)
            self._guesses.pop(gone, None)

    def _guess(self, tenant: str, above: int) -> int:
        recent = self._tenants.get(tenant)
        if recent is None:  # none of its answers seen yet
            return DEFAULT_ANSWER_TOKENS if above < DEFAULT_ANSWER_TOKENS else above + DEFAULT_ANSWER_TOKENS
        guesses = self._guesses[tenant]
        if above not in guesses:
            median = survival_median(recent, above)
            if median is None:  # longer than any seen: the usual length again
                median = above + self._guess(tenant, 0)
            guesses[above] = max(1, median)
        return guesses[above]

    def left(self, generated: int, max_tokens: int, tenant: str = "") -> int:
        """Tokens a request of `tenant` with `generated` tokens so far is expected still to need (at least
        one)."""
        return max(1, min(self._guess(tenant, generated), max_tokens) - generated)
