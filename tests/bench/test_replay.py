"""The replay benchmark, on a tiny workload, against real servers."""

import functools
import json
import subprocess
import sys

import pytest

from codefill.bench.workload import LINES_AFTER, LINES_BEFORE, build_workload

pytestmark = pytest.mark.integration


def test_workload_is_fixed_and_shaped_like_an_editor_window():
    a = build_workload(("textwrap.py",), places=2, lines_per_place=2, seed=3)
    b = build_workload(("textwrap.py",), places=2, lines_per_place=2, seed=3)
    assert a == b and len(a) == 2
    strokes = a[0].keystrokes
    assert len(strokes) > 3
    for s in strokes:
        assert len(s.prefix.split("\n")) <= LINES_BEFORE + 1
        assert len(s.suffix.split("\n")) <= LINES_AFTER + 1
        assert s.expected and not s.expected.endswith(" ")
    # Typing inside one line keeps the window's head: only the cursor's line grows.
    same_line = [s for s in strokes if s.place == strokes[0].place]
    heads = {s.prefix.rsplit("\n", 1)[0] for s in same_line}
    assert len(heads) == 1


def bench(*args):
    out = subprocess.run([sys.executable, "-m", "codefill.cli", "bench", "replay", "--files", "textwrap.py",
                          "--places", "1", "--lines", "1", "--json", *args],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_file_not_in_the_standard_library_is_a_clear_error_not_a_traceback():
    run = subprocess.run([sys.executable, "-m", "codefill.cli", "bench", "replay", "--files", "zipfile/nothing.py",
                          "--url", "http://127.0.0.1:9"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "zipfile/nothing.py is not a file of this Python's standard library" in run.stderr


def test_closed_loop_against_live_server(live_server):
    [result] = bench("--url", live_server.url)
    assert result["requests"] == result["completed"] > 0
    assert result["abandoned"] == 0 and result["errors"] == 0
    assert result["p50_ms"] <= result["p90_ms"] <= result["p99_ms"]
    assert 0 <= result["exact_match"] <= 1


def test_open_loop_abandons_what_is_late(live_server):
    [result] = bench("--url", live_server.url, "--open-loop", "--interval", "0.001", "--typists", "2")
    assert result["requests"] > 0
    assert result["abandoned"] > 0  # a word every millisecond: most answers come too late
    assert result["completed"] + result["abandoned"] + result["errors"] == result["requests"]
    # The ceiling, from the real engine's measured costs: no answer fits in a millisecond, so only the
    # place's last keystroke counts (the typist waits for it).
    assert result["typists"] == 2 and round(result["ceiling"] * result["requests"]) == 1
    assert result["answered/ceiling"] == round(result["answered"] / result["ceiling"], 2)


def test_compare_runs_both_servers_each_first_in_every_other_round():
    results = bench("--compare", "--rounds", "2")
    assert [r["label"] for r in results] == ["codefill #1", "llama-cpp-python #1", "llama-cpp-python #2",
                                             "codefill #2"]
    assert all(r["completed"] == r["requests"] > 0 for r in results)


def test_each_run_after_a_servers_first_starts_on_a_fresh_one():
    """The workload types the same places in every run: a server that served one would answer the next
    from its KV states, remembered answers and learned rhythms. Each run after its first gets a fresh one,
    in the caller's list; a server the bench cannot start again (an --against URL) is kept."""
    from types import SimpleNamespace

    from codefill.bench.runs import Fresh

    started, stopped = [], []

    def server(label):
        s = SimpleNamespace(label=label)
        s.stop = lambda: stopped.append(s)
        started.append(s)
        return s

    a, other = server("codefill"), SimpleNamespace(label="elsewhere")
    servers = [a, other]
    fresh = Fresh({"codefill": lambda: server("codefill")})
    assert fresh.before_run(servers, a) is a and not stopped  # just started: fresh already
    b = fresh.before_run(servers, a)
    assert b is not a and stopped == [a] and servers == [b, other]
    assert fresh.before_run(servers, b) is not b and stopped == [a, b]
    assert fresh.before_run(servers, other) is other and fresh.before_run(servers, other) is other


def test_runs_wait_until_no_server_process_computes():
    """A server still working after it said ready (an older tree's start-up probe) must not slow the
    next run: real processes, one computing for a second, one for ever."""
    import time
    from types import SimpleNamespace

    from codefill.bench.runs import wait_until_quiet

    def process(code):
        return SimpleNamespace(process=subprocess.Popen([sys.executable, "-c", code]))

    idle = process("import time; time.sleep(30)")
    busy_a_second = process("import time\nend = time.monotonic() + 1.0\nwhile time.monotonic() < end: pass\n"
                            "time.sleep(30)")
    forever = process("while True: pass")
    try:
        time.sleep(0.3)  # the interpreters started
        started = time.monotonic()
        assert wait_until_quiet([idle, busy_a_second])
        assert 0.5 < time.monotonic() - started < 10
        started = time.monotonic()
        assert wait_until_quiet([idle])
        assert time.monotonic() - started < 1
        assert not wait_until_quiet([idle, forever], timeout=1)
    finally:
        for s in (idle, busy_a_second, forever):
            s.process.kill()
            s.process.wait()


def test_compare_runs_another_source_tree_without_the_reference():
    """Before/after in one run: a second codefill started from a source tree (here this one)."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    results = bench("--compare", "--no-reference", "--source", f"same={root} --sequences 2")
    assert [r["label"] for r in results] == ["codefill #1", "codefill[same] #1"]
    assert all(r["completed"] == r["requests"] > 0 for r in results)


async def test_each_keystroke_names_its_typist_in_body_and_header():
    """A load balancer hashes on X-Session-Id: the bench sends it as editors do."""
    import httpx

    from codefill.bench.replay import Result, RunConfig, _ask
    from codefill.bench.workload import Keystroke

    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"choices": [{"text": "x", "finish_reason": "stop"}]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        await _ask(client, RunConfig(url="http://lb:8000", model="m"), Keystroke("f:1", "a = ", "\n", "x"), 3,
                   Result("t"))
    assert json.loads(seen[0].content)["user"] == seen[0].headers["x-session-id"] == "typist-3"


async def test_a_sessionless_run_sends_no_session_at_all():
    """--sessionless: as llama.vscode and plain clients ask, no user and no X-Session-Id."""
    import httpx

    from codefill.bench.replay import Result, RunConfig, _ask
    from codefill.bench.workload import Keystroke

    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"content": "x", "choices": [{"text": "x", "finish_reason": "stop"}]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        for dialect in ("openai", "llamacpp"):
            cfg = RunConfig(url="http://s:8000", model="m", dialect=dialect, session=False)
            await _ask(client, cfg, Keystroke("f:1", "a = ", "\n", "x"), 3, Result("t"))
    assert all("x-session-id" not in r.headers and "user" not in json.loads(r.content) for r in seen)


def test_also_dialect_replays_codefill_servers_in_each_way_side_by_side():
    from types import SimpleNamespace

    from codefill.bench.runs import _ways

    args = SimpleNamespace(also_dialect=["llamacpp"], sessionless=True)
    codefill, other = SimpleNamespace(label="codefill"), SimpleNamespace(label="llama-server -np 1")
    assert _ways(args, codefill) == [("codefill", None, True), ("codefill [llamacpp, no session]", "llamacpp", False)]
    assert _ways(args, other) == [("llama-server -np 1", None, True)]


def test_a_sessionless_run_is_compared_keystroke_by_keystroke():
    """Answers from memory take a few ms and the model's tens: with about half of each, p50 is whichever
    cluster holds the middle keystroke. The paired ratio compares each keystroke with itself."""
    from codefill.bench.replay import Result, paired

    base, other = Result("with"), Result("without")
    for i in range(10):
        fast = i < 5
        base.by_stroke["f:1", i] = 0.002 if fast else 0.050
        other.by_stroke["f:1", i] = (0.002 if fast and i < 4 else 0.050) * 1.1  # one memory answer lost
        base.latencies.append(base.by_stroke["f:1", i])
        other.latencies.append(other.by_stroke["f:1", i])
    other.by_stroke["f:2", 0] = 1.0  # answered by one run only: not paired
    assert other.summary()["p50_ms"] > 10 * base.summary()["p50_ms"]
    assert paired(base, other) == {"median_ratio": 1.1, "median_extra_ms": 5.0, "keystrokes": 10}
    assert paired(base, Result("nothing")) is None


def test_compare_pairs_the_sessionless_dialect_with_the_same_server_with_sessions():
    results = bench("--compare", "--no-reference", "--also-dialect", "llamacpp", "--sessionless")
    with_session, without = results
    assert [r["label"] for r in results] == ["codefill #1", "codefill [llamacpp, no session] #1"]
    assert "vs_session" not in with_session
    assert without["vs_session"]["of"] == "codefill #1"
    assert without["vs_session"]["keystrokes"] == without["completed"] == with_session["completed"] > 0
    assert without["vs_session"]["median_ratio"] > 0 and isinstance(without["vs_session"]["median_extra_ms"], float)


@functools.cache
def _openai_baseline(url: str) -> dict:
    [result] = bench("--url", url)
    return result


@pytest.mark.parametrize("dialect", ["ollama", "llamacpp", "tabby"])
def test_each_dialect_asks_in_its_own_wire_format(live_server, dialect):
    """Every keystroke answered in the dialect's format; Ollama's and llama.cpp's ask what OpenAI's
    asks, and one service answers all of them: the same exact-match count."""
    openai = _openai_baseline(live_server.url)
    results = bench("--url", live_server.url, "--against", live_server.url, "--dialect", dialect)
    assert len(results) == 2
    for r in results:
        assert r["requests"] == r["completed"] > 0 and r["errors"] == 0
        if dialect != "tabby":  # Tabby's requests have no max_tokens or stop: a line may come out longer
            assert r["exact_match"] == openai["exact_match"]
