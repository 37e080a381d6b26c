"""Prompt-lookup drafts for speculative decoding.

Code repeats itself: the line being written often continues the way an
earlier line did (`self.assertEqual(`, a parameter list, a name from the
suffix). `PromptLookup` proposes the tokens that followed the latest earlier
occurrence of the last few tokens generated, looking in the prompt, the
suffix and the completion so far. The engine checks a draft in one batch:
every token the model itself would have picked (greedy) is kept, the first
one it would not ends the draft, so the output is exactly what decoding one
token at a time gives, only in fewer steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class PromptLookup:
    """Drafts from n-gram matches in `context` (the prompt and what follows it)
    and `extra` (text the completion may quote, e.g. the code after the cursor)."""

    def __init__(self, context: Sequence[int], extra: Sequence[int] = (), *, ngram_max: int = 3,
                 ngram_min: int = 2, draft_max: int = 8, max_new: int = 4096) -> None:
        if not 1 <= ngram_min <= ngram_max:
            raise ValueError("need 1 <= ngram_min <= ngram_max")
        self.ngram_max = ngram_max
        self.ngram_min = ngram_min
        self.draft_max = draft_max
        # extra first, then the context: the latest occurrence (nearest the cursor) wins,
        # and a draft found in `extra` stops where `extra` ends.
        self._boundary = len(extra)
        self._seq = np.empty(len(extra) + len(context) + max_new, dtype=np.int64)
        self._seq[: len(extra)] = extra
        self._seq[len(extra) : len(extra) + len(context)] = context
        self._n = len(extra) + len(context)

    def __len__(self) -> int:
        return self._n

    def append(self, token: int) -> None:
        if self._n == len(self._seq):
            self._seq = np.concatenate([self._seq, np.empty(len(self._seq), dtype=np.int64)])
        self._seq[self._n] = token
        self._n += 1

    def propose(self) -> list[int]:
        """Up to `draft_max` tokens that may come next; [] when nothing matches."""
        seq = self._seq[: self._n]
        for n in range(min(self.ngram_max, self._n - 1), self.ngram_min - 1, -1):
            key = seq[self._n - n :]
            # Start positions i (< n_total - n, so not the key itself) where seq[i:i+n] == key.
            m = self._n - n
            hits = seq[:m] == key[0]
            for k in range(1, n):
                hits &= seq[k : k + m] == key[k]
            found = np.flatnonzero(hits)
            if found.size == 0:
                continue
            start = int(found[-1]) + n  # the token after the latest earlier match
            end = start + self.draft_max
            if start < self._boundary:
                end = min(end, self._boundary)
            end = min(end, self._n)
            if end > start:
                return seq[start:end].tolist()
        return []
