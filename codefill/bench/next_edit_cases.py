"""Cases of `codefill bench next-edit`: real edits split into history -> next edit.

A mined file change (next_edit_mine.py) is a file's text in one release and the
hunks that turn it into the next release's text, in file order. A change of n
hunks gives n - 1 edit cases and one quiet case:

- edit case k (1 <= k < n): hunks 1..k are the history (each one a unified
  diff of the text before and after it, oldest first), the file's text is the
  old text with them applied, the cursor is at the end of hunk k, and hunk
  k + 1 is the expected edit;
- quiet case: every hunk is in the history (the change is complete) and no
  edit should come.

Hunks are the groups of changes that a unified diff with three lines of
context would show as one hunk (difflib's grouped opcodes): changes closer
than that count as one edit. Positions are 0-based lines and characters
counted in UTF-16 code units, as LSP and the next-edit endpoint count them.
"""

from __future__ import annotations

import difflib
import json
import random
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

CASES_FILE = "next_edit_cases.json"


@dataclass(frozen=True)
class Hunk:
    start: int  # the old text's lines [start, end) ...
    end: int
    text: str  # ... become these lines (each ending in a newline but maybe the file's last)


@dataclass(frozen=True)
class FileChange:
    package: str  # e.g. "packaging 24.1 -> 24.2"
    path: str  # in the sdist, without its top folder
    old: str
    hunks: tuple[Hunk, ...]

    def texts(self) -> list[str]:
        """The text with the first k hunks applied, for k = 0..len(hunks)."""
        lines = self.old.splitlines(keepends=True)
        out = ["".join(lines)]
        shift = 0
        for h in self.hunks:
            new = h.text.splitlines(keepends=True)
            lines[h.start + shift:h.end + shift] = new
            shift += len(new) - (h.end - h.start)
            out.append("".join(lines))
        return out


@dataclass
class Case:
    id: str  # "PACKAGE FROM->TO/PATH#K", K the hunks in the history
    path: str
    text: str  # the file as the editor has it now
    cursor: dict  # {"line", "character"}
    history: list[dict]  # [{"path", "diff"}], oldest first
    expected: str | None  # the whole text after the expected edit; None: no edit should come
    package: str = ""
    language: str = "python"

    @property
    def quiet(self) -> bool:
        return self.expected is None


@dataclass
class CaseSet:
    packages: list[dict]  # [{"name", "from", "to"}]
    changes: list[FileChange] = field(default_factory=list)

    def cases(self) -> list[Case]:
        """Every case, in a fixed order: by package, path, then history length (the quiet case last)."""
        return [c for change in self.changes for c in cases_of(change)]


def unified_diff(path: str, before: str, after: str) -> str:
    """`git diff`-style unified diff of one file (three lines of context)."""
    out = []
    for line in difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                     f"a/{path}", f"b/{path}", n=3):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def position_at(text: str, offset: int) -> dict:
    """The LSP position of a character offset of `text`."""
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    return {"line": line, "character": _utf16_len(text[start:offset])}


def offset_at(text: str, position: dict) -> int:
    """The character offset of an LSP position; a character past the line's end means its end (as LSP
    says). ValueError when the line is not in the text."""
    line, character = position["line"], position["character"]
    start = 0
    for _ in range(line):
        start = text.find("\n", start) + 1
        if start == 0:
            raise ValueError(f"line {line} is past the end of the text")
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    units = 0
    for i in range(start, end):
        if units >= character:
            return i
        units += 2 if ord(text[i]) > 0xFFFF else 1
    return end


def apply_edits(text: str, edits: list[dict]) -> str:
    """`text` with LSP-style edits ({"range": {"start", "end"}, "text"}) applied; ranges are of the
    original text and must not overlap (ValueError)."""
    spans = sorted((offset_at(text, e["range"]["start"]), offset_at(text, e["range"]["end"]), e["text"])
                   for e in edits)
    out, at = [], 0
    for start, end, new in spans:
        if start < at or end < start:
            raise ValueError("edits overlap or a range ends before it starts")
        out += [text[at:start], new]
        at = end
    return "".join(out) + text[at:]


def end_of(text: str, hunk_end_line: int) -> dict:
    """The cursor after an edit whose new lines end before line `hunk_end_line`:
    the end of its last line, or the start of the line it left when it only removed lines."""
    lines = text.splitlines(keepends=True)
    if hunk_end_line <= 0 or not lines:
        return {"line": 0, "character": 0}
    line = min(hunk_end_line, len(lines)) - 1
    return {"line": line, "character": _utf16_len(lines[line].rstrip("\r\n"))}


def cases_of(change: FileChange) -> list[Case]:
    texts = change.texts()
    history: list[dict] = []
    out = []
    shift = 0
    for k, h in enumerate(change.hunks, 1):
        history.append({"path": change.path, "diff": unified_diff(change.path, texts[k - 1], texts[k])})
        new_lines = len(h.text.splitlines())
        if new_lines:
            cursor = end_of(texts[k], h.start + shift + new_lines)
        else:  # a removal: the cursor where the lines were
            cursor = {"line": min(h.start + shift, max(0, len(texts[k].splitlines()) - 1)), "character": 0}
        shift += new_lines - (h.end - h.start)
        expected = texts[k + 1] if k < len(change.hunks) else None
        out.append(Case(id=f"{change.package}/{change.path}#{k}", path=change.path, text=texts[k], cursor=cursor,
                        history=list(history), expected=expected, package=change.package))
    return out


def select(cases: list[Case], *, limit: int | None = None, seed: int = 0) -> list[Case]:
    """`limit` cases drawn with `seed` (all when None), in their fixed order."""
    if limit is None or limit >= len(cases):
        return list(cases)
    keep = set(random.Random(seed).sample(range(len(cases)), limit))
    return [c for i, c in enumerate(cases) if i in keep]


def to_json(case_set: CaseSet) -> dict:
    return {"about": "codefill bench next-edit: files of two adjacent releases and the hunks between them "
                     "(codefill/bench/next_edit_cases.py); made by `codefill bench next-edit --mine`",
            "packages": case_set.packages,
            "files": [{"package": c.package, "path": c.path, "old": c.old,
                       "hunks": [[h.start, h.end, h.text] for h in c.hunks]} for c in case_set.changes]}


def from_json(data: dict) -> CaseSet:
    changes = [FileChange(f["package"], f["path"], f["old"], tuple(Hunk(*h) for h in f["hunks"]))
               for f in data["files"]]
    return CaseSet(data["packages"], changes)


def load(path: str | Path | None = None) -> CaseSet:
    """The cases shipped with codefill, or those mined into `path`."""
    if path is None:
        text = resources.files("codefill.bench").joinpath(CASES_FILE).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return from_json(json.loads(text))


def save(case_set: CaseSet, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_json(case_set), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
