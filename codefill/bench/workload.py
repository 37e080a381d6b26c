"""The replay workload: people typing real code, word by word.

Source: a fixed set of files from the Python standard library of the
interpreter running the benchmark (same Python version, same files, same
workload). In each file a few places are chosen with a seeded RNG; at each
place a typist writes a run of consecutive lines, and at every word boundary
asks for the rest of the current line. The window sent is what an editor
client sends: whole lines, ~120 before the cursor's line and ~40 after it,
so it stays the same while the cursor moves inside a line.
"""

from __future__ import annotations

import random
import re
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

DEFAULT_FILES = ("textwrap.py", "json/decoder.py", "csv.py", "fractions.py", "shlex.py", "statistics.py")
LINES_BEFORE = 120
LINES_AFTER = 40
_WORD_START = re.compile(r"\w+|[^\w\s]+")


@dataclass(frozen=True)
class Keystroke:
    """One completion request: the window around the cursor and the true rest of the line."""

    place: str  # file:line, for reports
    prefix: str
    suffix: str
    expected: str


@dataclass(frozen=True)
class Place:
    name: str
    keystrokes: list[Keystroke]


def stdlib_file(name: str) -> Path:
    return Path(sysconfig.get_paths()["stdlib"]) / name


def _typable(line: str) -> bool:
    s = line.strip()
    return bool(s) and not s.startswith("#") and len(s) >= 8


def places_in(path: Path, *, places: int, lines_per_place: int, rng: random.Random) -> list[Place]:
    lines = path.read_text(encoding="utf-8").split("\n")
    starts = [i for i in range(LINES_BEFORE // 4, len(lines) - lines_per_place)
              if all(_typable(lines[i + k]) for k in range(lines_per_place))]
    chosen = sorted(rng.sample(starts, min(places, len(starts))))
    out = []
    for start in chosen:
        strokes = []
        for row in range(start, start + lines_per_place):
            before = "\n".join(lines[max(0, row - LINES_BEFORE) : row])
            after = "\n".join(lines[row + 1 : row + 1 + LINES_AFTER])
            line = lines[row]
            indent = len(line) - len(line.lstrip())
            for m in _WORD_START.finditer(line, indent):
                cursor = m.start()
                rest = line[cursor:].rstrip()
                if not rest:
                    continue
                strokes.append(Keystroke(
                    place=f"{path.name}:{row + 1}",
                    prefix=(before + "\n" if before else "") + line[:cursor],
                    suffix="\n" + after,
                    expected=rest,
                ))
        out.append(Place(f"{path.name}:{start + 1}", strokes))
    return out


def build_workload(files: tuple[str, ...] = DEFAULT_FILES, *, places: int = 2, lines_per_place: int = 3,
                   seed: int = 0) -> list[Place]:
    rng = random.Random(seed)
    workload: list[Place] = []
    for name in files:
        if not stdlib_file(name).is_file():
            raise ValueError(f"--files: {name} is not a file of this Python's standard library "
                             "(a module path such as json/decoder.py or zipfile/__init__.py where it is a package)")
    for name in files:
        workload += places_in(stdlib_file(name), places=places, lines_per_place=lines_per_place, rng=rng)
    return workload


def workload_from_args(args) -> list[Place] | None:
    """The workload a bench command's `--files`, `--places`, `--lines` and `--seed` ask for; None, with the
    reason on stderr, when a file is not one of the standard library's (the command then exits 2)."""
    try:
        return build_workload(tuple(f for f in args.files.split(",") if f), places=args.places,
                              lines_per_place=args.lines, seed=args.seed)
    except ValueError as exc:
        print(f"codefill: error: {exc}", file=sys.stderr)
        return None
