"""Fitting the cursor's code (prefix and suffix) into the context window.

The model family decides the layout (`FimFamily.segments`); this module fits
it into the context window (the model's `n_ctx` tokens less `max_tokens`:
the `budget`). When prefix + suffix + max_tokens do not fit, the
prompt is trimmed on purpose, from the far ends: whole lines are dropped from
the start of the prefix and from the end of the suffix, keeping the code
nearest the cursor. The suffix gets at most a quarter of the budget, the
prefix the rest. Trimmed requests are still answered, and the server logs
how much was dropped.

Two more things keep the engine's KV cache useful from one keystroke to the
next:

- Anchoring (`anchor_window`; `--no-anchor` turns it off). Editors send the
  ~120 lines above the cursor; moving to the next line drops the window's
  first line, which changes the prompt's first tokens and would make the
  whole cache useless (a cold prefill of ~1,200 tokens, seconds on a CPU, on
  every new line). A prefix of ANCHOR_MIN_LINES lines or more starts at the
  first line, among its first ANCHOR_SEARCH, whose CRC-32 is 0 mod
  ANCHOR_PERIOD. That line stays the head until it leaves the window itself,
  about every 16 lines; the cost is about 16 lines of context at the far end.
  Shorter prefixes (a file's start, which does not move) are left alone.
- The cold window (`cold_window`, `build_cold_prompt`; `--cold-window TOKENS`,
  default 384, 0 turns it off). The first keystroke at a new place (another
  file, a jump) finds nothing cached. For a prompt of at least twice TOKENS,
  the prompt stage also builds a short prompt: the lines before the cursor
  that make about TOKENS tokens (counted in characters, at the full prompt's
  characters per token), started at the line with the smallest CRC-32 among
  the COLD_WINNOW around that point (winnowing: the start stays put for about
  8 lines as the cursor moves down), and for FIM families at most a quarter
  of TOKENS of the suffix. The engine decides which prompt to evaluate
  (engines/llama_cpp/scheduler.py): a cold keystroke costs the short window,
  the keystrokes right after it reuse its cache, and the full window is
  evaluated in the background and serves from the next keystroke on. Engines
  without a cache of their own (vLLM, gateway) get no short prompt
  (`uses_cold_window`). `models prepare` weighs formats by the same picture:
  one cold window per place, then warm keystrokes.
- The kept window (`window_head`, `kept_window`). A window's start also moves
  when its target does (the typists sharing the engine come and go) or when
  the full prompt's characters per token change (its anchor moved), and a
  moved start makes the cached window useless. So the serving layer keeps
  the first lines of the window the engine last used for a session
  (service/cold_starts.py), and the next keystroke also offers that window
  grown to the cursor; the engine evaluates whichever its cache holds more of.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from ..engines.vocab import Vocabulary
from .families import FimFamily, Segment

SUFFIX_SHARE = 0.25
# Anchoring: only windows at least this long are anchored (shorter ones are
# usually a file's start, which does not move); the anchor is a line whose
# hash is 0 modulo ANCHOR_PERIOD, looked for among the first ANCHOR_SEARCH lines.
ANCHOR_MIN_LINES = 64
ANCHOR_PERIOD = 16
ANCHOR_SEARCH = 40
# Cold window: among the COLD_WINNOW lines around the point where the last
# `target` tokens begin, the window starts at the one with the smallest hash.
COLD_WINNOW = 16
# A token is rarely longer than this many characters; used to cut huge texts
# before tokenizing them.
_MAX_CHARS_PER_TOKEN = 16


@dataclass(frozen=True)
class BuiltPrompt:
    tokens: list[int]
    prefix: str  # as used, after trimming
    suffix: str
    trimmed_prefix_chars: int = 0
    trimmed_suffix_chars: int = 0
    # Cross-file snippets (crossfile.py) in front of it: their files, in the prompt's order, and tokens.
    crossfile_files: tuple[str, ...] = ()
    crossfile_tokens: int = 0

    @property
    def trimmed(self) -> bool:
        return bool(self.trimmed_prefix_chars or self.trimmed_suffix_chars)


def model_prefix(prefix: str) -> str:
    """The prefix as the model should see it: without the indentation of an
    otherwise empty cursor line. Models tokenize indentation together with
    the code after it; a prompt that ends in bare spaces is one they rarely
    saw in training, and they continue it badly."""
    line = prefix.rsplit("\n", 1)[-1]
    return prefix[: len(prefix) - len(line)] if line and not line.strip() else prefix


def anchor_window(prefix: str) -> str:
    """Start a long prefix at a content-defined line, so its head stays the
    same while the editor's window slides down the file.

    Editors send the ~120 lines above the cursor. Moving to the next line
    drops the window's first line, which changes the prompt's first tokens
    and makes the whole KV cache useless: every new line cost a cold prefill.
    Starting the prompt at the first line (among the first ANCHOR_SEARCH)
    whose hash is 0 mod ANCHOR_PERIOD keeps it on the same line until that
    line itself leaves the window, about every ANCHOR_PERIOD lines, at the
    price of about that many lines of context at the far end.
    """
    lines = prefix.split("\n")
    if len(lines) < ANCHOR_MIN_LINES:
        return prefix
    for i, line in enumerate(lines[:ANCHOR_SEARCH]):
        if len(line.strip()) >= 4 and zlib.crc32(line.encode("utf-8")) % ANCHOR_PERIOD == 0:
            return "\n".join(lines[i:])
    return prefix


def cold_window(prefix: str, chars: int) -> str | None:
    """The end of `prefix` to evaluate when the cache holds nothing of it:
    about `chars` characters of whole lines, or None if the prefix is not much
    longer than that.

    The start must stay put while the user types on, line after line, or each
    new line would be cold again. It is the line with the smallest hash among
    the COLD_WINNOW lines around the one where `chars` is reached (winnowing):
    as the cursor moves down, that line stays the smallest until it leaves the
    range, about COLD_WINNOW / 2 lines later on average. Counting characters
    rather than tokens keeps this a matter of the text alone, and cheap.
    """
    lines = prefix.split("\n")
    total, first = 0, len(lines)
    while first > 0 and total < chars:
        first -= 1
        total += len(lines[first]) + 1
    half = COLD_WINNOW // 2
    if first <= COLD_WINNOW:
        return None  # the whole prefix is at most COLD_WINNOW lines more
    candidates = [i for i in range(first - half, min(first + half, len(lines) - 1)) if lines[i].strip()]
    if not candidates:
        return "\n".join(lines[first:])
    start = min(candidates, key=lambda i: (zlib.crc32(lines[i].encode("utf-8")), i))
    return "\n".join(lines[start:])


def _fit_lines(vocab: Vocabulary, text: str, budget: int, *, keep_end: bool) -> str:
    """The longest run of whole lines of `text` at its end (keep_end) or start
    that tokenizes to at most `budget` tokens."""
    if budget <= 0 or not text:
        return ""
    if len(text) > budget * _MAX_CHARS_PER_TOKEN:
        limit = budget * _MAX_CHARS_PER_TOKEN
        text = text[-limit:] if keep_end else text[:limit]
    if len(vocab.tokenize(text)) <= budget:
        return text
    lines = text.splitlines(keepends=True)

    def candidate(n: int) -> str:
        return "".join(lines[len(lines) - n :] if keep_end else lines[:n])

    lo, hi = 0, len(lines)  # lo lines fit, hi lines may not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(vocab.tokenize(candidate(mid))) <= budget:
            lo = mid
        else:
            hi = mid - 1
    if lo > 0:
        return candidate(lo)
    # Not even the nearest line fits: keep the characters nearest the cursor.
    line = lines[-1] if keep_end else lines[0]
    tokens = vocab.tokenize(line)
    kept = tokens[len(tokens) - budget :] if keep_end else tokens[:budget]
    return vocab.detokenize(kept)


def build_prompt(vocab: Vocabulary, family: FimFamily, prefix: str, suffix: str | None, budget: int) -> BuiltPrompt:
    """Tokens for `family`'s FIM prompt of prefix/suffix within `budget` tokens."""
    use_fim = family.supports_fim and suffix is not None
    suffix_text = suffix if use_fim else ""

    def tokens_for(p: str, s: str) -> list[int]:
        segments = family.segments(p, s) if use_fim else ([] if not p else [Segment(p)])
        out: list[int] = []
        for i, seg in enumerate(segments):
            out += vocab.tokenize(seg.text, special=seg.special, add_bos=(i == 0))
        return out or vocab.tokenize("", add_bos=True)

    tokens = tokens_for(prefix, suffix_text)
    if len(tokens) <= budget:
        return BuiltPrompt(tokens, prefix, suffix or "")

    markers = len(tokens_for("", "")) if use_fim else len(vocab.tokenize("", add_bos=True))
    room = max(budget - markers, 0)
    suffix_budget = min(len(vocab.tokenize(suffix_text)), int(room * SUFFIX_SHARE)) if suffix_text else 0
    new_suffix = _fit_lines(vocab, suffix_text, suffix_budget, keep_end=False)
    prefix_budget = room - len(vocab.tokenize(new_suffix))
    new_prefix = _fit_lines(vocab, prefix, prefix_budget, keep_end=True)
    tokens = tokens_for(new_prefix, new_suffix)
    # Separate tokenization of pieces can differ by a token at the seams.
    while len(tokens) > budget and new_prefix:
        new_prefix = new_prefix[1:]
        tokens = tokens_for(new_prefix, new_suffix)
    return BuiltPrompt(
        tokens,
        new_prefix,
        (suffix or "") if not use_fim else new_suffix,
        trimmed_prefix_chars=len(prefix) - len(new_prefix),
        trimmed_suffix_chars=(len(suffix_text) - len(new_suffix)) if use_fim else 0,
    )


def build_cold_prompt(vocab: Vocabulary, family: FimFamily, full: BuiltPrompt, target: int,
                      budget: int) -> BuiltPrompt | None:
    """The cold window's prompt for `full`: about `target` tokens of the prefix
    (`cold_window`, at the full prompt's characters per token, rounded so
    that typing does not move it) and at most a quarter of `target` tokens of
    the suffix (whole lines); None where the prefix is not much longer."""
    chars_per_token = round(max(len(full.prefix), 1) / max(len(full.tokens), 1), 1)
    start = cold_window(full.prefix, int(target * max(chars_per_token, 1.0)))
    if start is None:
        return None
    return window_prompt(vocab, family, full, start, target, budget)


def window_prompt(vocab: Vocabulary, family: FimFamily, full: BuiltPrompt, prefix: str, target: int,
                  budget: int) -> BuiltPrompt:
    """A window's prompt: `prefix` (an end of `full`'s) and, for FIM families, at most a quarter of
    `target` tokens of `full`'s suffix (whole lines)."""
    suffix = full.suffix
    if family.supports_fim and suffix:
        suffix = _fit_lines(vocab, suffix, target // 4, keep_end=False)
    return build_prompt(vocab, family, prefix, suffix, budget)


# A window's head: the lines that find its start again in a later prefix (`window_head`, `kept_window`).
HEAD_LINES = 2


def window_head(window: str) -> str | None:
    """The first HEAD_LINES lines of a window's prefix, with their line ends: enough to find its start
    in the session's next prefix (`kept_window`); None for a window shorter than that."""
    lines = window.split("\n", HEAD_LINES)
    if len(lines) <= HEAD_LINES or not "".join(lines[:HEAD_LINES]).strip():
        return None
    return "".join(line + "\n" for line in lines[:HEAD_LINES])


def kept_window(prefix: str, head: str) -> str | None:
    """The end of `prefix` from the last line that begins `head` (`window_head` of an earlier window):
    that window again, grown by what was typed since; None where the prefix no longer holds it."""
    pos = prefix.rfind(head)
    while pos > 0 and prefix[pos - 1] != "\n":  # a line's start only
        pos = prefix.rfind(head, 0, pos + len(head) - 1)
    return prefix[pos:] if pos >= 0 else None
