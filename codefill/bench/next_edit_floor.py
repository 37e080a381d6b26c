"""The floor of `codefill bench next-edit`: "copy the last edit's pattern".

No model: the rule reads the newest history event of the current file (a
unified diff, parsed with unidiff), finds what its last hunk replaced, token
by token (difflib on words, single symbols and runs of whitespace), and makes
the same replacement at the first occurrence of the replaced text after the
cursor (whole words only where the text starts or ends with a word). A
rename, a changed call or a new argument written once is so carried to its
next use; anything else gets "no edit".

Each changed run of tokens is one replacement; the rule applies the one whose
next occurrence is nearest the cursor. A pure insertion (nothing replaced) is
anchored on the tokens before it, back to the first one that is not
whitespace, so that "x" -> "x, y" is looked for as "x".
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from unidiff import PatchSet, UnidiffParseError

from .next_edit_cases import offset_at, position_at

_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")


@dataclass(frozen=True)
class Replacement:
    old: str  # never empty, never only whitespace
    new: str


def last_hunk(history: list[dict], path: str) -> tuple[str, str] | None:
    """The old and new side (context included) of the last hunk of the newest event of `path`."""
    for event in reversed(history):
        if event.get("path") != path:
            continue
        diff = event["diff"]
        if diff.startswith("@@"):
            diff = f"--- a/{path}\n+++ b/{path}\n{diff}"
        try:
            files = PatchSet(diff)
        except UnidiffParseError:
            return None
        hunks = [h for f in files for h in f]
        if not hunks:
            return None
        hunk = hunks[-1]
        return "".join(line.value for line in hunk.source_lines()), "".join(line.value for line in hunk.target_lines())
    return None


def replacements(old: str, new: str) -> list[Replacement]:
    """The changed runs of tokens between `old` and `new`, each as (what it replaced, what replaced it)."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        k = i1
        while k > 0 and not "".join(a[k:i2]).strip():  # nothing to look for yet: anchor on what comes before
            k -= 1
        before, replaced = "".join(a[k:i1]), "".join(a[k:i2])
        if replaced.strip():
            out.append(Replacement(replaced, before + "".join(b[j1:j2])))
    return out


def next_occurrence(text: str, what: str, start: int) -> int | None:
    """The offset of the first `what` at or after `start`, as a whole word where it begins or ends with one."""
    left = r"(?<!\w)" if re.match(r"\w", what) else ""
    right = r"(?!\w)" if re.search(r"\w$", what) else ""
    m = re.compile(left + re.escape(what) + right).search(text, start)
    return m.start() if m else None


def predict(text: str, cursor: dict, history: list[dict], path: str) -> list[dict]:
    """The floor's edits for a next-edit request (empty: no edit)."""
    hunk = last_hunk(history, path)
    if hunk is None:
        return []
    try:
        at = offset_at(text, cursor)
    except ValueError:
        return []
    found = []
    for r in replacements(*hunk):
        where = next_occurrence(text, r.old, at)
        if where is not None:
            found.append((where, r))
    if not found:
        return []
    where, r = min(found, key=lambda f: f[0])
    return [{"range": {"start": position_at(text, where), "end": position_at(text, where + len(r.old))},
             "text": r.new}]
