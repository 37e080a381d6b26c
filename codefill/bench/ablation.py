"""`codefill bench quality --ablate`: what each post-processing filter gains or costs.

Post-processing only cuts and re-indents the model's text; it never changes
what the model generates before the cut. So one run of a server that has
every filter switched off (`codefill serve --disable-filter all`) records the
model's raw token stream per task, and every combination of filters is then
the same `plan` the server runs, fed those tokens here. One
generation gives all the variants at the cost of one, on the very same raw
answers (a server per variant would also meet the engine's run-to-run
differences).

The variants: `text-rules` (the language-agnostic rules only: every
code-aware filter off), `+NAME` (text-rules plus one code-aware filter),
`-NAME` (all but one), `all` (every filter, the server's default). `verify`
asks a server with every filter on for some of the tasks and says on how many
its answer is the one computed here.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, replace

import httpx

from codefill.server.postprocess import plan, run_to_end

from .humaneval import Task
from .quality import Executor, Result, RunConfig, TaskResult, categorize, is_exact, request_body

# The code-aware filters: those that read the code around the cursor (the tree-sitter language layer)
# or the completion's own lines to fit an answer to its code; the others are language-agnostic text rules.
CODE_AWARE_FILTERS = ("IndentStyle", "BracketBalance", "SyntaxCheck", "RepeatsAbove", "LoopStop")


def variants() -> dict[str, frozenset[str]]:
    """Variant name -> the filters it leaves out."""
    code_aware = frozenset(CODE_AWARE_FILTERS)
    out = {"text-rules": code_aware}
    out.update({f"+{name}": code_aware - {name} for name in CODE_AWARE_FILTERS})
    out.update({f"-{name}": frozenset({name}) for name in CODE_AWARE_FILTERS})
    out["all"] = frozenset()
    return out


def _editor_request(cfg: RunConfig, task: Task) -> dict:
    """What an editor asks: the suffix always, no client stops (the filters are what is measured)."""
    return request_body(replace(cfg, with_suffix=True, client_stops=False), task)


@dataclass
class RawAnswer:
    task_id: str
    pieces: list[str] | None  # the model's tokens as text, None: the request failed
    latency: float | None


async def collect(cfg: RunConfig, tasks: list[Task], *, raw_file=None) -> list[RawAnswer]:
    """Ask a server without filters for every task; keep each answer's tokens."""
    out: list[RawAnswer] = []
    async with httpx.AsyncClient(timeout=300) as client:
        for i, task in enumerate(tasks, 1):
            t0 = time.monotonic()
            try:
                r = await client.post(cfg.url + "/v1/completions", json={**_editor_request(cfg, task), "logprobs": 0})
                r.raise_for_status()
                choice = r.json()["choices"][0]
                pieces = list(choice["logprobs"]["tokens"])
                if "".join(pieces) != choice["text"]:
                    raise ValueError("the server post-processed the answer: start it with --disable-filter all")
                answer = RawAnswer(task.task_id, pieces, time.monotonic() - t0)
            except (httpx.HTTPError, KeyError, IndexError, TypeError) as exc:
                print(f"\n  {task.task_id}: {exc}", file=sys.stderr)
                answer = RawAnswer(task.task_id, None, None)
            out.append(answer)
            if raw_file is not None:
                raw_file.write(json.dumps(vars(answer)) + "\n")
                raw_file.flush()
            if i % 20 == 0 or i == len(tasks):
                print(f"\r  raw answers: {i}/{len(tasks)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return out


def filtered(task: Task, pieces: list[str], disabled: frozenset[str], language: str | None) -> str:
    """What the server answers for `task` when the model says `pieces`, with `disabled` filters off."""
    return run_to_end(plan(task.prefix, task.suffix, language=language, disabled=disabled).pipeline, pieces)


async def score(tasks: list[Task], raw: list[RawAnswer], executor: Executor, *, label: str, variant: str,
                language: str | None, details=None) -> list[Result]:
    """One Result per variant, each scored by running the tests."""
    by_id = {a.task_id: a for a in raw}
    results = []
    for name, disabled in variants().items():
        res = Result(f"{label}[{name}]", variant, True)
        started = time.monotonic()

        async def one(task: Task, name=name, disabled=disabled) -> TaskResult:
            answer = by_id[task.task_id]
            if answer.pieces is None:
                return TaskResult(task.task_id, None, "http", False, None)
            text = filtered(task, answer.pieces, disabled, language)
            outcome = await executor.outcome(task.program(text))
            return TaskResult(task.task_id, text, categorize(task, text, outcome), is_exact(task, text), None)

        res.results = list(await asyncio.gather(*(one(t) for t in tasks if t.task_id in by_id)))
        res.wall = time.monotonic() - started
        if details is not None:
            for r in res.results:
                details.write(json.dumps({"label": res.label, "variant": variant, "suffix": True, **vars(r)}) + "\n")
            details.flush()
        results.append(res)
        passed = sum(r.category == "pass" for r in res.results)
        print(f"  {res.label}: {passed}/{len(res.results)} passed", file=sys.stderr, flush=True)
    return results


async def verify(cfg: RunConfig, tasks: list[Task], every_filter: Result) -> tuple[int, list[tuple[str, str, str]]]:
    """Ask a server with every filter on; (agreeing tasks, [(task, served, computed)] that differ)
    against `every_filter`, the variant `all` computed here."""
    computed = {r.task_id: r.completion for r in every_filter.results}
    same, differ = 0, []
    async with httpx.AsyncClient(timeout=300) as client:
        for i, task in enumerate(tasks, 1):
            r = await client.post(cfg.url + "/v1/completions", json=_editor_request(cfg, task))
            r.raise_for_status()
            served = r.json()["choices"][0]["text"]
            if served == computed.get(task.task_id):
                same += 1
            else:
                differ.append((task.task_id, served, computed.get(task.task_id) or ""))
            print(f"\r  verify: {i}/{len(tasks)}, {same} the same", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return same, differ
