"""Mining `codefill bench next-edit` cases from two releases of a package on PyPI.

`pip download --no-deps --no-binary :all: NAME==VERSION` fetches each release's
sdist; every Python source file (tests, docs and setup.py left out) that both
releases have and that changed becomes a FileChange: the older text and the
hunks difflib finds between the two (grouped as a three-line-context unified
diff groups them). What the cases are made of is in next_edit_cases.py.
"""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from .next_edit_cases import CaseSet, FileChange, Hunk

# Not the code of the package: its tests, docs, build scripts.
_SKIP = re.compile(r"(^|/)(tests?|testing|docs?|documentation|examples?|benchmarks?)/|(^|/)(test_[^/]*|[^/]*_test"
                   r"|setup|conftest|noxfile|conf)\.py$")
# Line breaks of str.splitlines() that are not "\n": a file with one would have
# other lines in an editor (and in a unified diff) than here.
_ODD_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
MAX_FILE_CHARS = 40_000  # larger files are left out: the shipped cases stay small


def parse_spec(spec: str) -> dict:
    """'NAME:FROM:TO' -> {"name", "from", "to"}."""
    parts = spec.split(":")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"expected NAME:FROM:TO (e.g. packaging:24.1:24.2), got {spec!r}")
    return {"name": parts[0], "from": parts[1], "to": parts[2]}


def download(name: str, version: str, dest: Path) -> Path:
    """The sdist of NAME==VERSION in `dest`, fetched by pip unless it is there already."""
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                           "--disable-pip-version-check", "-q", "-d", str(dest), f"{name}=={version}"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pip download {name}=={version} failed:\n{proc.stderr[-2000:]}")
    stem = f"{_normal(name)}-{version}."
    found = [p for p in dest.iterdir() if p.name.lower().replace("_", "-").startswith(stem)
             and p.name.endswith((".tar.gz", ".zip", ".tar.bz2"))]
    if len(found) != 1:
        raise RuntimeError(f"pip download {name}=={version} left {sorted(p.name for p in found)}, not one sdist")
    return found[0]


def _normal(name: str) -> str:
    """A project name as PyPI compares them (PEP 503), for matching file names."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_sources(archive: Path) -> dict[str, str]:
    """The package's Python sources in an sdist: path without the top folder -> text."""
    def keep(name: str) -> str | None:
        rel = name.split("/", 1)[1] if "/" in name else ""
        return rel if rel.endswith(".py") and not _SKIP.search(rel) else None

    out = {}
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                if (rel := keep(name)) is not None:
                    out[rel] = z.read(name).decode("utf-8")
    else:
        with tarfile.open(archive) as t:
            for m in t.getmembers():
                if m.isfile() and (rel := keep(m.name)) is not None:
                    out[rel] = t.extractfile(m).read().decode("utf-8")
    return out


def change_of(package: str, path: str, old: str, new: str) -> FileChange | None:
    """The hunks that turn `old` into `new`, or None when nothing changed."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    hunks = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(3):
        changed = [op for op in group if op[0] != "equal"]
        i1, j1 = changed[0][1], changed[0][3]
        i2, j2 = changed[-1][2], changed[-1][4]
        hunks.append(Hunk(i1, i2, "".join(b[j1:j2])))
    return FileChange(package, path, old, tuple(hunks)) if hunks else None


def changes_between(label: str, old: dict[str, str], new: dict[str, str], *,
                    max_chars: int = MAX_FILE_CHARS) -> list[FileChange]:
    """The changed files both releases have, by path."""
    out = []
    for path in sorted(set(old) & set(new)):
        a, b = old[path], new[path]
        if len(a) > max_chars or _ODD_BREAKS.search(a) or _ODD_BREAKS.search(b):
            continue
        if (change := change_of(label, path, a, b)) is not None:
            out.append(change)
    return out


def package_label(spec: dict) -> str:
    return f"{spec['name']} {spec['from']}->{spec['to']}"


def mine(specs: list[dict], *, max_chars: int = MAX_FILE_CHARS, download_dir: Path | None = None) -> CaseSet:
    """Cases from PyPI: every package's two releases, downloaded, compared file by file."""
    changes = []
    with tempfile.TemporaryDirectory(prefix="codefill-next-edit-") as tmp:
        dest = download_dir or Path(tmp)
        dest.mkdir(parents=True, exist_ok=True)
        for spec in specs:
            print(f"mine: {package_label(spec)}", file=sys.stderr)
            old = read_sources(download(spec["name"], spec["from"], dest))
            new = read_sources(download(spec["name"], spec["to"], dest))
            found = changes_between(package_label(spec), old, new, max_chars=max_chars)
            hunks = sum(len(c.hunks) for c in found)
            print(f"  {len(found)} changed files, {hunks} hunks", file=sys.stderr)
            changes += found
    return CaseSet([{"name": s["name"], "from": s["from"], "to": s["to"]} for s in specs], changes)
