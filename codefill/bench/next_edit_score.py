"""Scoring `codefill bench next-edit` answers.

An answer's edits are applied to the case's text (ranges of that text, LSP
positions); what comes out is compared with what the release made of it:

- exact: the text after the predicted edits is the text after the expected
  edit, character for character (so the region is right and nothing else
  changed);
- similarity: a chrF of the change (as "delta chrF" scores edits): the
  character n-grams (1 to 6 characters, whitespace kept: indentation is code)
  that the predicted edits add and remove are matched against those the
  expected edit adds and removes, precision and recall averaged over n and
  combined into an F-score with recall weighted twice (chrF's beta = 2), in
  0..1. The texts compared are the region from the first to the last line
  that either edit touches. Answering nothing scores 0, an exact answer 1; an
  edit in the wrong place scores what it shares with the right one, and the
  unchanged lines between them count for nothing;
- proposed: on edit cases, the share where the answer changes the text;
- quiet: on quiet cases, the share answered with no change (`no_edit`, or
  edits that only restate the text).

An error (an HTTP error, ranges outside the text or overlapping) scores as a
wrong answer everywhere: not exact, similarity 0, not quiet.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from os.path import commonprefix

from .next_edit_cases import Case, apply_edits


@dataclass
class Answer:
    edits: list[dict] = field(default_factory=list)
    no_edit: bool = True
    latency: float | None = None  # seconds
    error: str | None = None
    usage: dict | None = None  # the server's token counts (prompt_tokens, completion_tokens)


@dataclass
class Scored:
    case_id: str
    quiet: bool  # no edit was expected
    changed: bool  # the answer changes the text
    exact: bool
    similarity: float
    latency: float | None
    error: str | None
    edits: list[dict]
    usage: dict | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def regions(before: str, *afters: str) -> list[str]:
    """`before` and each of `afters` cut to the lines that differ in any of `afters`: the lines
    that all of them share with `before` above and below are left out."""
    old = before.splitlines(keepends=True)
    news = [a.splitlines(keepends=True) for a in afters]
    top = min(len(commonprefix([old, n])) for n in news)
    bottom = min(len(commonprefix([old[top:][::-1], n[top:][::-1]])) for n in news)
    return ["".join(t[top:len(t) - bottom]) for t in (old, *news)]


def _ngrams(text: str, n: int) -> Counter:
    return Counter(text[i:i + n] for i in range(len(text) - n + 1))


def similarity(before: str, predicted: str, expected: str, *, max_n: int = 6, beta: float = 2.0) -> float:
    """Delta chrF: how well the change `before` -> `predicted` matches `before` -> `expected`, from the
    character n-grams (n = 1..max_n) each change adds and removes; 1.0 when the two results are equal."""
    if predicted == expected:
        return 1.0
    precisions, recalls = [], []
    for n in range(1, max_n + 1):
        old, ours, theirs = _ngrams(before, n), _ngrams(predicted, n), _ngrams(expected, n)
        our_added, our_removed = ours - old, old - ours
        their_added, their_removed = theirs - old, old - theirs
        ours_total = sum(our_added.values()) + sum(our_removed.values())
        theirs_total = sum(their_added.values()) + sum(their_removed.values())
        if not ours_total and not theirs_total:
            continue
        matched = sum((our_added & their_added).values()) + sum((our_removed & their_removed).values())
        precisions.append(matched / ours_total if ours_total else 0.0)
        recalls.append(matched / theirs_total if theirs_total else 0.0)
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    return 0.0 if p + r == 0 else (1 + beta ** 2) * p * r / (beta ** 2 * p + r)


def score(case: Case, answer: Answer) -> Scored:
    expected = case.text if case.expected is None else case.expected
    predicted, error = None, answer.error
    if error is None:
        try:
            predicted = apply_edits(case.text, answer.edits)
        except (ValueError, KeyError, TypeError) as exc:
            error = f"edits do not apply: {exc}"
    if predicted is None:
        return Scored(case.id, case.quiet, False, False, 0.0, answer.latency, error, answer.edits,
                      answer.usage)
    return Scored(case.id, case.quiet, predicted != case.text, predicted == expected,
                  similarity(*regions(case.text, predicted, expected)), answer.latency, None, answer.edits,
                  answer.usage)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (`p` in 0..100), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summarize(label: str, scored: list[Scored]) -> dict:
    edit = [s for s in scored if not s.quiet]
    quiet = [s for s in scored if s.quiet]
    latencies = [s.latency for s in scored if s.latency is not None and s.error is None]

    def share(items: list[Scored], test) -> float | None:
        return round(sum(1 for s in items if test(s)) / len(items), 4) if items else None

    def mean(items: list[Scored], key) -> float | None:
        return round(sum(key(s) for s in items) / len(items), 4) if items else None

    def ms(p: float) -> float | None:
        v = percentile(latencies, p)
        return None if v is None else round(v * 1000, 1)

    return {"label": label, "cases": len(scored), "edit_cases": len(edit), "quiet_cases": len(quiet),
            "exact": share(edit, lambda s: s.exact), "similarity": mean(edit, lambda s: s.similarity),
            "proposed": share(edit, lambda s: s.changed), "quiet": share(quiet, lambda s: s.error is None
                                                                         and not s.changed),
            "p50_ms": ms(50), "p90_ms": ms(90), "errors": sum(1 for s in scored if s.error),
            # What the latency paid for, when the server says (mean tokens per answer).
            "prompt_tokens": mean_usage(scored, "prompt_tokens"),
            "completion_tokens": mean_usage(scored, "completion_tokens")}


def mean_usage(scored: list[Scored], key: str) -> float | None:
    counts = [s.usage[key] for s in scored if s.usage and isinstance(s.usage.get(key), int)]
    return round(sum(counts) / len(counts), 1) if counts else None


COLUMNS = ("label", "cases", "exact", "similarity", "proposed", "quiet", "p50_ms", "p90_ms", "errors", "prompt_tokens",
           "completion_tokens")


def format_table(summaries: list[dict]) -> str:
    def cell(v) -> str:
        return "-" if v is None else str(v)

    rows = [list(COLUMNS)] + [[cell(s[c]) for c in COLUMNS] for s in summaries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths))) for r in rows]
    if summaries:
        s = summaries[0]
        lines.append(f"{s['edit_cases']} edit cases, {s['quiet_cases']} quiet cases: exact, similarity (delta chrF) "
                     f"and proposed are over edit cases, quiet over quiet cases")
    return "\n".join(lines)
