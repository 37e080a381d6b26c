"""The edit history: unified diffs parsed (with `unidiff`) and checked.

Each event is one file's diff. A diff may come with or without its `---` /
`+++` header lines (without them, the event's `path` names the file); it
must parse, hold at least one hunk, and describe one file only. What a hunk
says is kept as its old and new lines, which every format writes its own
way (Zeta's fenced diffs, Sweep's original/updated blocks, ...).

"Does not apply", decided here: the newest event of the current file must
describe the text the editor sent. Each of its hunks' new side (context and
added lines) is found in `text` at the hunk's new line numbers, where those
lines fall inside `text` (a window of the file may hold part of a hunk, or
none). Older events of the current file are not checked: the edits after
them changed those lines on purpose. Events of other files cannot be checked
(their text is not sent) beyond parsing. Reverting the newest event's hunks
gives the text before the last edit, which Sweep's format shows as
`original`.
"""

from __future__ import annotations

from dataclasses import dataclass

from unidiff import PatchSet, UnidiffParseError

from ..errors import APIError
from .protocol import HistoryEvent


@dataclass(frozen=True)
class Hunk:
    old_start: int  # 1-based, as the diff says; 0 for a hunk that adds to an empty file
    old: tuple[str, ...]  # the old side's lines (context and removed), without line ends
    new_start: int
    new: tuple[str, ...]  # the new side's lines (context and added)
    lines: tuple[str, ...]  # the hunk's body lines, each with its ' ', '-' or '+'

    @property
    def header(self) -> str:
        return f"@@ -{self.old_start},{len(self.old)} +{self.new_start},{len(self.new)} @@"

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(line[1:] for line in self.lines if line.startswith("-"))

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(line[1:] for line in self.lines if line.startswith("+"))


@dataclass(frozen=True)
class Edit:
    """One event of the history, parsed."""

    path: str
    hunks: tuple[Hunk, ...]

    @property
    def body(self) -> str:
        """The hunks as a unified diff without file headers (`@@` lines and bodies), newline-ended."""
        return "".join(f"{h.header}\n" + "".join(f"{line}\n" for line in h.lines) for h in self.hunks)


def _bad(index: int, message: str, code: str = "invalid_diff") -> APIError:
    return APIError(400, f"history[{index}].diff {message}", param=f"history[{index}].diff", code=code)


def parse_event(event: HistoryEvent, index: int) -> Edit:
    """One event's diff as an `Edit`, or the 400 that says why it is not one."""
    diff = event.diff.replace("\r\n", "\n")
    if not any(line.startswith("--- ") for line in diff.splitlines()):
        diff = f"--- a/{event.path}\n+++ b/{event.path}\n{diff}"
    if not diff.endswith("\n"):
        diff += "\n"
    try:
        patch = PatchSet(diff)
    except UnidiffParseError as exc:
        raise _bad(index, f"is not a unified diff: {exc}") from None
    if len(patch) != 1:
        raise _bad(index, f"must describe one file (the event's path); it describes {len(patch)}")
    hunks = []
    for hunk in patch[0]:
        lines = tuple(f"{line.line_type}{line.value.rstrip(chr(10))}" for line in hunk if line.line_type in " -+")
        old = tuple(line[1:] for line in lines if line[0] in " -")
        new = tuple(line[1:] for line in lines if line[0] in " +")
        hunks.append(Hunk(hunk.source_start, old, hunk.target_start, new, lines))
    if not hunks:
        raise _bad(index, "has no hunks (no '@@ -a,b +c,d @@' line with its lines)")
    return Edit(event.path, tuple(hunks))


def parse_history(events: list[HistoryEvent]) -> list[Edit]:
    return [parse_event(event, i) for i, event in enumerate(events)]


def newest_of(edits: list[Edit], path: str) -> int | None:
    """The index of the newest edit of `path`, if any."""
    for i in range(len(edits) - 1, -1, -1):
        if edits[i].path == path:
            return i
    return None


def check_applies(edit: Edit, index: int, lines: list[str], text_offset: int) -> None:
    """400 unless every hunk's new side matches `lines` (the text, starting at file line
    `text_offset`) where the hunk's lines fall inside it."""
    for hunk in edit.hunks:
        first = max(hunk.new_start, 1) - 1 - text_offset  # the hunk's first new line, in `lines`
        for k, expected in enumerate(hunk.new):
            at = first + k
            if 0 <= at < len(lines) and lines[at].rstrip("\r") != expected.rstrip("\r"):
                raise _bad(index, f"does not apply to text: its hunk {hunk.header} has {expected!r} at line "
                           f"{at + text_offset + 1} where text has {lines[at]!r} (the newest diff of "
                           "the current file must describe the text as it is now)", code="diff_does_not_apply")


def reverted(edit: Edit, lines: list[str], text_offset: int) -> list[str]:
    """`lines` with `edit` (already checked to apply) undone where its hunks lie inside them: the text
    before the last edit. A hunk that reaches past the window is left as it is."""
    out = list(lines)
    for hunk in sorted(edit.hunks, key=lambda h: h.new_start, reverse=True):
        first = max(hunk.new_start, 1) - 1 - text_offset
        if hunk.new_start == 0:
            first = -text_offset
        if first < 0 or first + len(hunk.new) > len(out):
            continue
        out[first:first + len(hunk.new)] = hunk.old
    return out
