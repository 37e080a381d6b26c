"""Golden post-processing fixtures (tests/golden/README.md): each case's raw
model output through the real pipeline, whole, token by token and character
by character, must give the expected completion."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from codefill.server.languages import detect_language
from codefill.server.postprocess import plan, run_to_end

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
CURSOR, RAW, EXPECTED, END = "<|cursor|>", "<|raw|>", "<|expected|>", "<|end|>"


@dataclass
class Case:
    name: str
    prefix: str
    suffix: str
    raw: str
    expected: str
    mode: str
    language: str | None
    filepath: str | None


def load(path: Path) -> Case:
    text = path.read_text(encoding="utf-8")
    code, sep, rest = text.partition("\n" + RAW)
    assert sep, f"{path}: no {RAW} line"
    assert code.count(CURSOR) == 1, f"{path}: {CURSOR} must appear once"
    prefix, suffix = code.split(CURSOR)
    options_line, _, rest = rest.partition("\n")
    raw, sep, rest = rest.partition("\n" + EXPECTED + "\n")
    assert sep, f"{path}: no {EXPECTED} line"
    expected, sep, _ = rest.partition("\n" + END)
    assert sep, f"{path}: no {END} line"
    options = dict(kv.split("=", 1) for kv in options_line.split())
    rel = path.relative_to(GOLDEN).as_posix()
    language = options.get("language")
    filepath = None if language == "none" else rel
    return Case(rel, prefix, suffix + "\n", raw, expected, options.get("mode", "auto"),
                None if language == "none" else language, filepath)


CASES = sorted(p for p in GOLDEN.glob("*/*") if p.is_file())


def model_tokens(text: str) -> list[str]:
    """Pieces shaped like a code model's tokens: a word or symbol with the whitespace before it."""
    return re.findall(r"[ \t]*\w+|[ \t]*[^\w\s]|\n|[ \t]+", text) or [text]


def complete(case: Case, pieces: list[str]) -> str:
    language = detect_language(case.language, case.filepath)
    return run_to_end(plan(case.prefix, case.suffix, language=language, mode=case.mode).pipeline, pieces)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.relative_to(GOLDEN).as_posix())
def test_golden(path):
    case = load(path)
    assert "".join(model_tokens(case.raw)) == case.raw
    assert complete(case, [case.raw]) == case.expected, "whole"
    assert complete(case, model_tokens(case.raw)) == case.expected, "token by token"
    assert complete(case, list(case.raw)) == case.expected, "character by character"


def test_golden_count_by_language():
    counts = Counter(p.parent.name for p in CASES)
    print("\ngolden fixtures by language:", dict(sorted(counts.items())), "total", sum(counts.values()))
    assert sum(counts.values()) >= 60 and len(counts) >= 5, counts
