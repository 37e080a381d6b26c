"""Token healing: the prompt's last token taken back and re-chosen by the model.

An editor asks at a word boundary: the prompt ends in `if x ` or `self.`,
and the tokenizer has cut the prompt's end where the model would not have.
BPE vocabularies glue a space to the word after it (` is`, ` None`), so a
prompt ending in a bare space token puts the model where it has rarely been
in training, and it answers with something odd (`1-based`, `0.`). Healing
removes the prompt's last token and lets the model choose the first token of
its answer among those that begin with that token's text (` ` -> ` is`),
then hides the healed text from the answer (Microsoft's guidance library
calls it token healing; it costs one decode step).

`Healer` indexes the vocabulary's token pieces once (sorted bytes), so the
tokens that begin with a text are one contiguous range found by bisection.

The way through: the prompt stage (server/prompt/ `render_prompt`) asks
`engine.heal_text(prefix)` for the text of the prefix's last token when other
tokens begin with it (never a line end), takes that text off the prompt and
sends it as `GenerationRequest.heal`; the llama.cpp engine's decoder chooses
the first token among the tokens whose piece begins with it (greedy, or
sampling through a logits processor) and hands that token out without the
healed text. vLLM and gateway engines do not heal (`heal_text` is ""): the
OpenAI API cannot constrain only the first token (`logit_bias` would need
every token that begins with a space). A side effect worth having: mid-word
keystrokes (`x = s`, `x = se`) send the same prompt, so they reuse the KV
cache whole. Counted in `codefill_completions_token_healed_total`;
`--no-token-healing` turns it off.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict

import numpy as np

# How much of the prompt's last line is tokenized to find its last token (a
# token is never this long).
_TAIL_CHARS = 256
_CACHED_RANGES = 256


class Healer:
    """The vocabulary's pieces (bytes, specials left out), sorted, for prefix lookups."""

    def __init__(self, pieces: dict[int, bytes]) -> None:
        self._piece = pieces
        ordered = sorted((p, t) for t, p in pieces.items() if p)
        self._pieces = [p for p, _ in ordered]
        self._ids = np.array([t for _, t in ordered], dtype=np.int64)
        self._ranges: OrderedDict[bytes, np.ndarray] = OrderedDict()

    def extensions(self, text: bytes) -> np.ndarray:
        """Ids of the tokens whose piece begins with `text` (`text`'s own token among them)."""
        hit = self._ranges.get(text)
        if hit is not None:
            self._ranges.move_to_end(text)
            return hit
        lo = bisect.bisect_left(self._pieces, text)
        hi = lo
        if text:
            end = _successor(text)
            hi = bisect.bisect_left(self._pieces, end, lo) if end is not None else len(self._pieces)
        ids = self._ids[lo:hi]
        self._ranges[text] = ids
        if len(self._ranges) > _CACHED_RANGES:
            self._ranges.popitem(last=False)
        return ids

    def piece(self, token: int) -> bytes:
        return self._piece.get(token, b"")

    def heal_text(self, tokenize, prompt: str) -> str:
        """The text of `prompt`'s last token when the model could write it
        differently (other tokens begin with it): what to take back. "" when
        there is nothing to heal: an empty prompt, a last token that ends a
        line (the lines below are the filters' business), or no other token."""
        if not prompt or prompt.endswith("\n"):
            return ""
        tokens = tokenize(prompt[prompt.rfind("\n") + 1 :][-_TAIL_CHARS:])
        if len(tokens) < 1:
            return ""
        last = self._piece.get(int(tokens[-1]), b"")
        try:
            text = last.decode("utf-8")
        except UnicodeDecodeError:  # part of a character: leave it alone
            return ""
        if not text or "\n" in text or not prompt.endswith(text) or len(text) >= len(prompt):
            return ""
        return text if len(self.extensions(last)) > 1 else ""


def _successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string that begins with `prefix`."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def best_allowed(logits: np.ndarray, allowed: np.ndarray) -> int:
    """The most likely token among `allowed`."""
    return int(allowed[int(np.argmax(logits[allowed]))])
