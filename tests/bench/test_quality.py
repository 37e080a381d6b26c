"""`codefill bench quality`: HumanEval tasks, scoring, and a tiny run against the live server."""

import json
import subprocess
import sys

import pytest

from codefill.bench import humaneval, quality
from tests.helpers import start_server, stop_server


@pytest.fixture(scope="module")
def problems():
    return humaneval.load_problems()


def test_single_line_tasks_are_the_1033_of_bavarian_et_al(problems):
    tasks = humaneval.single_line_tasks(problems)
    assert len(problems) == 164 and len(tasks) == 1033
    t = tasks[0]
    assert t.task_id == "HumanEval/0/L0" and t.middle == "    for idx, elem in enumerate(numbers):"
    # The hole is the whole line; the program is the original one.
    assert t.prefix + t.middle + t.suffix == problems[0]["prompt"] + problems[0]["canonical_solution"]
    assert t.prefix.endswith('"""\n') and t.suffix.startswith("\n        for idx2")


def test_multi_line_tasks_mask_block_bodies(problems):
    tasks = humaneval.multi_line_tasks(problems)
    assert len(tasks) == 349
    t = tasks[0]
    assert t.prefix.endswith("for idx, elem in enumerate(numbers):\n")
    assert t.middle.split("\n")[0] == "        for idx2, elem2 in enumerate(numbers):"
    assert t.suffix == "\n\n    return False\n"


def test_the_canonical_answers_pass_and_wrong_ones_fail(problems):
    tasks = humaneval.single_line_tasks(problems)[:8] + humaneval.multi_line_tasks(problems)[:3]
    for t in tasks:
        assert quality.execute(t.program(t.middle), 10) == "pass", t.task_id
    t = tasks[0]
    assert quality.execute(t.program("    for idx, elem in enumerate(numbers[:1]):"), 10) == "wrong"
    assert quality.execute(t.program("    for idx, elem in enumerate(numbrs):"), 10) == "error"
    assert quality.execute(t.program("    for idx, elem in"), 10) == "syntax"
    assert quality.execute(t.program("    for idx, elem in enumerate(iter(int, 1)):"), 2) == "timeout"


def test_categories_and_exact_match(problems):
    t = humaneval.single_line_tasks(problems)[0]
    assert quality.categorize(t, "  \n", "syntax") == "empty"
    assert quality.categorize(t, "        for idx2, elem2 in enumerate(numbers):", "syntax") == "repeat"
    assert quality.categorize(t, "x", "wrong") == "wrong"
    assert quality.is_exact(t, "for idx, elem in enumerate(numbers):  ")
    assert not quality.is_exact(t, "for idx, elem in enumerate(numbers)")


def test_shards_merge_back_into_one_run(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [{"label": "a", "variant": "single", "suffix": True, "task_id": f"T/{i}", "completion": "x",
             "category": "pass" if i % 2 else "wrong", "exact": i == 1, "latency": 0.1} for i in range(4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows + rows[:1]))
    [run] = quality.merge([str(path)])
    s = run.summary()
    assert s["tasks"] == 4 and s["pass@1"] == 0.5 and s["exact_match"] == 0.25
    # A second run cut short: --common compares both on the tasks both have.
    path.write_text(path.read_text() + json.dumps({**rows[3], "label": "b", "category": "wrong"}) + "\n")
    a, b = quality.merge([str(path)], common=True)
    assert a.summary()["tasks"] == b.summary()["tasks"] == 1
    assert a.summary()["pass@1"] == 1.0 and b.summary()["pass@1"] == 0.0
    quality.plot([s], str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.integration
def test_a_few_tasks_against_a_live_server(tmp_path):
    server = start_server("--threads", "1", "--request-timeout", "600", name="quality")
    try:
        out = subprocess.run([sys.executable, "-m", "codefill.cli", "bench", "quality", "--url", server.url,
                              "--tasks", "HumanEval/2", "--json", "--details", str(tmp_path / "d.jsonl")],
                             capture_output=True, text=True, timeout=600)
    finally:
        stop_server(server)
    assert out.returncode == 0, out.stderr
    [summary] = json.loads(out.stdout)
    assert summary["tasks"] == 1 and summary["categories"]["http"] == 0
    assert sum(summary["categories"].values()) == 1
    [row] = [json.loads(x) for x in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert row["task_id"] == "HumanEval/2/L0" and row["completion"] is not None


def test_ablation_variants_are_pipelines_over_the_same_raw_answer(problems, tmp_path):
    from codefill.bench import ablation

    v = ablation.variants()
    assert v["text-rules"] == frozenset(ablation.CODE_AWARE_FILTERS) and v["all"] == frozenset()
    assert v["+SyntaxCheck"] == frozenset(ablation.CODE_AWARE_FILTERS) - {"SyntaxCheck"}
    assert v["-LoopStop"] == {"LoopStop"} and len(v) == 2 + 2 * len(ablation.CODE_AWARE_FILTERS)
    # A block body whose model answer runs on into prose at the body's indentation: SyntaxCheck ends
    # it where it stops parsing; the block end rule alone (the text rules) keeps the prose.
    [task] = [t for t in humaneval.multi_line_tasks(problems) if t.task_id == "HumanEval/0/B2"]
    body = task.middle
    raw = [body[:30], body[30:], "\n                This is the distance between them.\n"]
    text_rules = ablation.filtered(task, raw, v["text-rules"], "python")
    every_filter = ablation.filtered(task, raw, v["all"], "python")
    assert quality.is_exact(task, every_filter), every_filter
    assert not quality.is_exact(task, text_rules) and "This is the distance" in text_rules
    executor = quality.Executor(1, 10)
    try:
        import asyncio

        results = asyncio.run(ablation.score([task], [ablation.RawAnswer(task.task_id, raw, 0.1)], executor,
                                             label="t", variant="multi", language="python"))
    finally:
        executor.close()
    by = {r.label: r.results[0] for r in results}
    assert by["t[all]"].category == "pass" and by["t[text-rules]"].category == "syntax"
    assert by["t[+SyntaxCheck]"].category == "pass"


@pytest.mark.integration
def test_ablate_records_raw_answers_once_and_verifies_them_against_a_live_server(tmp_path):
    out = subprocess.run([sys.executable, "-m", "codefill.cli", "bench", "quality", "--ablate", "--tasks",
                          "HumanEval/2", "--verify-every", "1", "--json", "--raw", str(tmp_path / "raw.jsonl")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    summaries = {s["label"]: s for s in json.loads(out.stdout)}
    assert set(summaries) == {f"codefill[{n}]" for n in ablation_names()}
    assert all(s["categories"]["http"] == 0 for s in summaries.values())
    [raw] = [json.loads(x) for x in (tmp_path / "raw.jsonl").read_text().splitlines()]
    assert raw["task_id"] == "HumanEval/2/L0" and raw["pieces"]
    assert "verify: the served answer is the computed one on 1 of 1 tasks" in out.stderr


def ablation_names():
    from codefill.bench import ablation

    return list(ablation.variants())
