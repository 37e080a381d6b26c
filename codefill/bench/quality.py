"""`codefill bench quality`: HumanEval infilling against an OpenAI-compatible server.

Each task's hole is sent as one completion request (prompt = prefix, suffix =
what follows, temperature 0); the answer goes into the hole and the
problem's own `check(entry_point)` runs in a subprocess with a timeout.
pass@1 is the share of tasks whose tests pass, exact match the share whose
answer is the masked code (whitespace at both ends ignored).

A failing answer gets one category, the first that applies: `empty` (only
whitespace), `repeat` (its first line is the line after the hole: it writes
the suffix again), `syntax` (the program no longer compiles), `timeout`,
`error` (an exception other than a failed assertion), `wrong` (a test's
assertion failed), `http` (the server answered an error).

The tests run model-written code on this machine: each program runs in a
fresh temporary folder with `python -I`, a CPU-time and memory limit and a
wall-clock timeout. Treat it as untrusted code all the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from .humaneval import Task

CATEGORIES = ("pass", "wrong", "error", "syntax", "timeout", "repeat", "empty", "http")
# What a plain client of a server without post-processing asks for: one line,
# or the stops of the Codex paper for a block.
CLIENT_STOPS = {"single": ["\n"], "multi": ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#"]}


@dataclass
class RunConfig:
    url: str
    model: str
    variant: str = "single"  # "single" or "multi"
    with_suffix: bool = True
    client_stops: bool = False
    language: str | None = None  # sent as codefill's `language` extension field
    max_tokens: int = 48
    timeout: float = 10.0  # per test program, seconds
    workers: int = 2
    label: str = ""


@dataclass
class TaskResult:
    task_id: str
    completion: str | None
    category: str
    exact: bool
    latency: float | None


@dataclass
class Result:
    label: str
    variant: str
    with_suffix: bool
    results: list[TaskResult] = field(default_factory=list)
    wall: float = 0.0

    def summary(self) -> dict:
        n = len(self.results)
        counts = {c: sum(r.category == c for r in self.results) for c in CATEGORIES}
        lat = [r.latency for r in self.results if r.latency is not None]
        return {
            "label": self.label,
            "variant": self.variant,
            "suffix": self.with_suffix,
            "tasks": n,
            "pass@1": round(counts["pass"] / n, 4) if n else None,
            "exact_match": round(sum(r.exact for r in self.results) / n, 4) if n else None,
            "categories": counts,
            "p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
            "wall_s": round(self.wall, 1) if self.wall else None,  # unknown for merged runs
        }


# The child limits itself, then runs the program as __main__.
_RUNNER = ("import resource, runpy, sys; "
           "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
           "resource.setrlimit(resource.RLIMIT_CPU, (30, 30)); "
           "runpy.run_path(sys.argv[1], run_name='__main__')")


def execute(program: str, timeout: float) -> str:
    """Run a test program: "pass", "wrong", "error", "syntax" or "timeout"."""
    try:
        compile(program, "<task>", "exec")
    except (SyntaxError, ValueError):
        return "syntax"
    with tempfile.TemporaryDirectory(prefix="codefill-he-") as tmp:
        path = os.path.join(tmp, "task.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(program)
        try:
            proc = subprocess.run([sys.executable, "-I", "-c", _RUNNER, path], cwd=tmp, capture_output=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL, start_new_session=True)
        except subprocess.TimeoutExpired:
            return "timeout"
    if proc.returncode == 0:
        return "pass"
    return "wrong" if b"AssertionError" in proc.stderr[-2000:] else "error"


def _first_code_line(text: str) -> str:
    return next((ln.strip() for ln in text.split("\n") if ln.strip()), "")


def categorize(task: Task, completion: str, outcome: str) -> str:
    if outcome == "pass":
        return "pass"
    if not completion.strip():
        return "empty"
    if _first_code_line(completion) == _first_code_line(task.suffix):
        return "repeat"
    return outcome


def is_exact(task: Task, completion: str) -> bool:
    def norm(s: str) -> str:  # whitespace at both ends and at line ends ignored
        return "\n".join(ln.rstrip() for ln in s.strip().split("\n"))

    return norm(completion) == norm(task.middle)


class Executor:
    """Runs test programs on a few threads; a program already run is not run again."""

    def __init__(self, workers: int, timeout: float) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.timeout = timeout
        self._outcomes: dict[str, str] = {}

    async def outcome(self, program: str) -> str:
        key = hashlib.sha256(program.encode()).hexdigest()
        if key not in self._outcomes:
            loop = asyncio.get_running_loop()
            self._outcomes[key] = await loop.run_in_executor(self.pool, execute, program, self.timeout)
        return self._outcomes[key]

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def request_body(cfg: RunConfig, task: Task) -> dict:
    """The completion request for `task`, as `cfg` says to ask it."""
    body = {"model": cfg.model, "prompt": task.prefix, "max_tokens": cfg.max_tokens, "temperature": 0}
    if cfg.with_suffix:
        body["suffix"] = task.suffix
    if cfg.client_stops:
        body["stop"] = CLIENT_STOPS[cfg.variant]
    if cfg.language:
        body["language"] = cfg.language
    return body


async def run(cfg: RunConfig, tasks: list[Task], executor: Executor, *, show_progress: bool = True,
              details=None) -> Result:
    """Ask for every task, score the answers. `details`: an open text file that
    gets each answer as a JSON line as soon as it is scored."""
    res = Result(cfg.label or cfg.url, cfg.variant, cfg.with_suffix)
    scoring: list[asyncio.Task] = []
    started = time.monotonic()

    async def score(task: Task, completion: str, latency: float) -> TaskResult:
        outcome = await executor.outcome(task.program(completion))
        return record(TaskResult(task.task_id, completion, categorize(task, completion, outcome),
                                 is_exact(task, completion), latency))

    def record(result: TaskResult) -> TaskResult:
        if details is not None:
            details.write(json.dumps({"label": res.label, "variant": res.variant, "suffix": res.with_suffix,
                                      **vars(result)}) + "\n")
            details.flush()
        return result

    async with httpx.AsyncClient(timeout=300) as client:
        for i, task in enumerate(tasks, 1):
            t0 = time.monotonic()
            try:
                r = await client.post(cfg.url + "/v1/completions", json=request_body(cfg, task))
                r.raise_for_status()
                text = r.json()["choices"][0]["text"]
            except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
                print(f"\n  {task.task_id}: {exc}", file=sys.stderr)
                res.results.append(record(TaskResult(task.task_id, None, "http", False, None)))
            else:
                scoring.append(asyncio.create_task(score(task, text, time.monotonic() - t0)))
            if show_progress and (i % 20 == 0 or i == len(tasks)):
                passed = sum(1 for s in scoring if s.done() and s.result().category == "pass")
                print(f"\r  {res.label}: {i}/{len(tasks)} tasks, {passed} passed so far",
                      end="", file=sys.stderr, flush=True)
        res.results += await asyncio.gather(*scoring)
    res.wall = time.monotonic() - started
    if show_progress:
        print(file=sys.stderr)
    order = {t.task_id: i for i, t in enumerate(tasks)}
    res.results.sort(key=lambda r: order[r.task_id])
    return res


def merge(paths: list[str], *, common: bool = False) -> list[Result]:
    """Runs read back from `--details` files (e.g. shards of one run), one Result per
    label, variant and suffix setting."""
    runs: dict[tuple, Result] = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                key = (d["label"], d["variant"], d["suffix"])
                res = runs.setdefault(key, Result(d["label"], d["variant"], d["suffix"]))
                res.results.append(TaskResult(d["task_id"], d["completion"], d["category"], d["exact"],
                                              d["latency"]))
    for res in runs.values():
        seen = {r.task_id: r for r in res.results}  # a task run twice counts once
        res.results = list(seen.values())
    if common and runs:  # runs cut short: compare them on the tasks they all have
        shared = set.intersection(*({r.task_id for r in res.results} for res in runs.values()))
        for res in runs.values():
            res.results = [r for r in res.results if r.task_id in shared]
    return list(runs.values())


def format_table(summaries: list[dict]) -> str:
    cols = ["label", "variant", "suffix", "tasks", "pass@1", "exact_match", *CATEGORIES[1:], "p50_ms", "wall_s"]

    def cell(s: dict, c: str) -> str:
        v = s["categories"][c] if c in CATEGORIES else s[c]
        return "-" if v is None else str(v)

    rows = [cols] + [[cell(s, c) for c in cols] for s in summaries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    return "\n".join("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths)))
                     for r in rows)


def plot(summaries: list[dict], path: str, title: str = "HumanEval infilling: where answers fail") -> None:
    """A PNG of stacked bars: each run's share of tasks per category."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"pass": "#2e7d32", "wrong": "#ef6c00", "error": "#c62828", "syntax": "#6a1b9a",
              "timeout": "#455a64", "repeat": "#1565c0", "empty": "#9e9e9e", "http": "#000000"}
    labels = [f"{s['label']}\n{s['variant']}-line{'' if s['suffix'] else ', no suffix'}" for s in summaries]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(summaries) + 2), 5))
    bottom = [0.0] * len(summaries)
    for c in CATEGORIES:
        share = [100 * s["categories"][c] / s["tasks"] if s["tasks"] else 0 for s in summaries]
        if not any(share):
            continue
        ax.bar(labels, share, bottom=bottom, label=c, color=colors[c])
        bottom = [b + v for b, v in zip(bottom, share)]
    ax.set_ylabel("% of tasks")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
