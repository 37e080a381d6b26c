"""Choosing a sequence's tokens from its rows of a step's logits.

`Decoder` holds one request's decoding state: greedy (argmax: every editor
request) or sampled (temperature, top-p, presence/frequency penalties,
seeded), token healing (the first token is one whose piece begins with the
text taken off the prompt, and that text is not handed out again), logprobs,
and prompt-lookup drafts for speculative decoding (greedy only: a draft is
kept while each token is the model's own argmax, so the answer is the one
decoding a token at a time gives). It also decides when the request ends:
a stop token, `max_tokens`, or the context's end.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Callable

import numpy as np

from ..base import GeneratedToken, GenerationRequest, GenerationResult
from ..healing import Healer, best_allowed
from ..lookup import PromptLookup

# Recent tokens the presence and frequency penalties look at (llama.cpp's default).
PENALTY_LAST_N = 64
_LOGIT_GRID = 256
# The most tokens of a forecast (`Decoder.foresee`) checked in one step.
FORECAST_MAX = 8


class Decoder:
    def __init__(self, request: GenerationRequest, result: GenerationResult, prompt: list[int], *,
                 healer: Healer | None, stop_ids: frozenset[int], is_eog: Callable[[int], bool],
                 piece: Callable[[int], bytes], top_text: Callable[[int], str], draft_max: int,
                 draft_ngram_min: int) -> None:
        self.request = request
        self.result = result
        s = request.sampling
        self.greedy = s.temperature == 0 and request.top_logprobs is None and not (
            s.presence_penalty or s.frequency_penalty)
        self._heal = healer.extensions(request.heal.encode("utf-8")) if request.heal and healer else None
        self._healed = request.heal.encode("utf-8")
        self._stop_ids = stop_ids
        self._is_eog = is_eog
        self._piece = piece
        self._top_text = top_text
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._rng = np.random.default_rng(s.seed) if not self.greedy else None
        self._recent = list(prompt[-PENALTY_LAST_N:])
        self.lookup = None
        if self.greedy and draft_max > 0:
            self.lookup = PromptLookup(prompt, request.lookup_tokens, ngram_min=draft_ngram_min,
                                       draft_max=draft_max, max_new=request.max_tokens + 16)
        self._forecast: list[int] = []  # the answer expected (`foresee`), while the tokens follow it
        self._followed = 0
        self.finish: str | None = None

    # -- choosing --------------------------------------------------------------

    def pick(self, logits: np.ndarray) -> int:
        """The next token from one row of logits."""
        heal, self._heal = self._heal, None
        if self.greedy:
            return int(logits.argmax()) if heal is None else best_allowed(logits, heal)
        return self._sample(logits, heal)

    def _sample(self, logits: np.ndarray, allowed) -> int:
        s = self.request.sampling
        x = logits.astype(np.float64)
        if allowed is not None:
            masked = np.full_like(x, -np.inf)
            masked[allowed] = x[allowed]
            x = masked
        if s.presence_penalty or s.frequency_penalty:
            ids, counts = np.unique(np.asarray(self._recent[-PENALTY_LAST_N:], dtype=np.int64), return_counts=True)
            x[ids] -= counts * s.frequency_penalty + s.presence_penalty
        if s.temperature == 0:
            return int(x.argmax())
        # A sequence's logits move in the last bits with the batch it was computed in (which cells its KV
        # sits in); rounded to 1/256, a seeded request draws the same tokens whatever ran beside it.
        x = np.round(x * _LOGIT_GRID) / _LOGIT_GRID
        x = (x - x.max()) / s.temperature
        p = np.exp(x)
        p /= p.sum()
        if s.top_p < 1.0:
            order = np.argsort(-p)
            cut = int(np.searchsorted(np.cumsum(p[order]), s.top_p)) + 1
            keep = order[:cut]
            q = np.zeros_like(p)
            q[keep] = p[keep]
            p = q / q.sum()
        return int(self._rng.choice(len(p), p=p))

    def foresee(self, tokens) -> None:
        """`tokens` are what the answer is expected to be: the session's earlier answer from where this
        prompt ends (slots.py `Placement.continuation`), which the model computed from this very prompt.
        They are drafts while the answer follows them, up to `FORECAST_MAX` a step, with or without
        `--speculative` (greedy decoding checks every one, so the answer is the same either way)."""
        if self.greedy:
            self._forecast, self._followed = list(tokens), 0

    def drafts(self, room: int) -> list[int]:
        """Drafts to check along with the next step's token: the rest of the forecast while the answer
        follows it, else prompt lookup's."""
        if room <= 0:
            return []
        if self._followed < len(self._forecast):
            # The answer so far is the forecast's first `_followed` tokens: the drafts are what follows them.
            return self._forecast[self._followed : self._followed + min(room, FORECAST_MAX)]
        if self.lookup is None:
            return []
        return self.lookup.propose()[:room]

    def forecast_left(self) -> int:
        """The forecast's tokens the answer has not reached yet (0: none, or the answer left it)."""
        return len(self._forecast) - self._followed

    def first_drafts(self, room: int) -> list[int]:
        """Drafts for the answer's first tokens, evaluated with the prompt's last token: the forecast's;
        none when the first token is healed (the forecast's first may be only the healed text, where
        the model picks a longer token: measured, such drafts were mostly all thrown away). The
        forecast then drafts from the second token on, if the first is its first."""
        return self._forecast[: min(room, FORECAST_MAX)] if room > 0 and not self._healed else []

    def accept(self, token: int) -> None:
        """`token` is part of the answer (for lookups, the forecast and penalties)."""
        if self.lookup is not None:
            self.lookup.append(token)
        if self._followed < len(self._forecast) and self._forecast[self._followed] == token:
            self._followed += 1
        else:
            self._forecast = []
        if not self.greedy:
            self._recent.append(token)

    # -- handing out -----------------------------------------------------------

    def emit(self, token: int, logits: np.ndarray | None, send: Callable[[GeneratedToken], None]) -> bool:
        """Hand `token` to the request; False when the request has ended (a stop token or max_tokens)."""
        result = self.result
        if token in self._stop_ids or self._is_eog(token):
            self.finish = result.finish_reason = "stop"
            return False
        result.completion_tokens += 1
        logprob, top = None, None
        if self.request.top_logprobs is not None and logits is not None:
            logprob, top = self._logprobs(logits, token, self.request.top_logprobs)
        if self._healed:  # the first token begins with what the prompt gave back: not the answer's
            piece, self._healed = self._piece(token)[len(self._healed):], b""
        else:
            piece = self._piece(token)
        send(GeneratedToken(token, self._utf8.decode(piece), logprob, top))
        self.accept(token)
        if result.completion_tokens >= self.request.max_tokens:
            self.finish = result.finish_reason = "length"
            return False
        return True

    def _logprobs(self, logits: np.ndarray, token: int, top_n: int) -> tuple[float, dict[str, float]]:
        x = logits.astype(np.float64)
        top_logit = x.max()
        log_z = top_logit + math.log(np.exp(x - top_logit).sum())
        logprob = float(x[token] - log_z)
        if top_n <= 0:
            return logprob, {}
        best = np.argpartition(-x, top_n)[:top_n]
        return logprob, {self._top_text(int(t)): float(x[t] - log_z) for t in sorted(best, key=lambda i: -x[i])}
