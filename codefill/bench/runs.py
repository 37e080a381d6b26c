"""Running the replay benchmark against servers: its labels and configuration
from the command line's arguments, and servers run side by side. Used by
`codefill bench replay` (cli.py) and its vLLM comparison (vllm.py)."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from codefill.launch import Server

from .replay import RunConfig, paired, run


def run_name(args, label: str, typists: int) -> str:
    """A run's label: the server, and the typists when the invocation runs several counts."""
    return f"{label} @{typists}" if len(args.typists) > 1 else label


def run_config(args, url: str, model: str, label: str, with_suffix: bool, typists: int | None = None, *,
               dialect: str | None = None, session: bool = True) -> RunConfig:
    return RunConfig(url=url, model=model, typists=typists or args.typists[0], open_loop=args.open_loop,
                     interval=args.interval, with_suffix=with_suffix, max_tokens=args.max_tokens, label=label,
                     details=args.details, dialect=dialect or getattr(args, "dialect", "openai"), session=session)


def _ways(args, server) -> list[tuple[str, str | None, bool]]:
    """(label, dialect, session) of each way `server` is replayed: as asked, and for codefill servers
    also in each `--also-dialect` (without sessions with `--sessionless`)."""
    ways = [(server.label, None, True)]
    if server.label.startswith("codefill"):
        for dialect in getattr(args, "also_dialect", None) or ():
            session = not getattr(args, "sessionless", False)
            ways.append((f"{server.label} [{dialect}{'' if session else ', no session'}]", dialect, session))
    return ways


def round_order(servers: list, i: int) -> list:
    """The order of round `i` (from 0): A, B, then B, A, and so on. Over two rounds each server's runs
    sit at positions that sum the same (1 + 4, 2 + 3), so a drift over the invocation (the machine
    warming or slowing) does not favour one; with A, B, A, B the first server always ran earlier. The
    invocation's first run is still the first server's round 1."""
    return list(servers) if i % 2 == 0 else list(reversed(servers))


class Fresh:
    """Servers the bench started itself, each run on a fresh one: a run must not find an earlier run's
    sessions, KV states, remembered answers or typing rhythms (every run types the same places, and the
    ceiling assumes nothing cached), so a server that has served a run is stopped and started again
    (`starts`: how, by label) before the next."""

    def __init__(self, starts: dict[str, Callable[[], Server]]) -> None:
        self.starts = starts
        # The servers that have served a run, by id() (held, so that no later server can take a stopped one's id).
        self.used: dict[int, Server] = {}

    def before_run(self, servers: list[Server], s: Server) -> Server:
        """`s`, or a fresh one in its place in `servers` if it has served a run."""
        if id(s) in self.used and s.label in self.starts:
            s.stop()
            new = self.starts[s.label]()
            servers[servers.index(s)] = new
            s = new
        self.used[id(s)] = s
        return s


def run_servers(args, servers: list[Server], workload, *, typists: int | None = None, stop: bool = True,
                fresh: Fresh | None = None) -> list[dict]:
    """Every server on the same workload, alternating per round; stopped afterwards.
    Only codefill's servers are sent the suffix. With `fresh`, every run starts on a fresh server,
    replaced in `servers` (the caller's list)."""
    summaries = []
    try:
        for i in range(args.rounds):
            for s in round_order(servers, i):
                first = None  # the server's run as asked, this round: what a sessionless one is paired with
                for name, dialect, session in _ways(args, s):
                    if fresh is not None:
                        s = fresh.before_run(servers, s)
                    _wait_until_idle(servers)
                    with_suffix = not args.no_suffix and s.label.startswith("codefill")
                    typists = typists or args.typists[0]
                    label = f"{run_name(args, name, typists)} #{i + 1}"
                    cfg = run_config(args, s.url, s.model, label, with_suffix, typists, dialect=dialect,
                                     session=session)
                    result = asyncio.run(run(cfg, workload))
                    summary = result.summary()
                    compared = paired(first, result) if first is not None and not session else None
                    if compared is not None:
                        summary["vs_session"] = {"of": first.label, **compared}
                    first = first or result
                    summaries.append(summary)
    finally:
        for s in servers if stop else ():
            s.stop()
    return summaries


def _cpu_ticks(pid: int) -> int | None:
    """CPU time a process has used so far (user + system, every thread), in clock ticks; None where
    /proc cannot say (not Linux, or the process is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)


def wait_until_quiet(servers, *, window: float = 0.25, most_ticks: int = 2, timeout: float = 30) -> bool:
    """Wait until no server's process computes (at most `most_ticks` CPU ticks in a `window`), so one
    server's work after it said ready cannot slow another's run. A codefill from before 3f2ec30 (a
    `--source` of an older commit) said ready before measuring its step costs, and that probe, ~1.4 s of
    both cores here, ran during the invocation's first run: the outliers of every earlier A/B's first
    run (p90 0.6-1.3 s, a third of what the same tree answered in the second position). False, with a
    note, if one still computes after `timeout` seconds (the runs go on)."""
    pids = [s.process.pid for s in servers if getattr(s, "process", None) is not None]
    deadline = time.monotonic() + timeout
    last = {pid: _cpu_ticks(pid) for pid in pids}
    while True:
        time.sleep(window)
        now = {pid: _cpu_ticks(pid) for pid in pids}
        busy = [pid for pid in pids if last[pid] is not None and now[pid] is not None
                and now[pid] - last[pid] > most_ticks]
        if not busy:
            return True
        if time.monotonic() > deadline:
            print(f"\nnote: server process(es) {busy} still computing after {timeout:g}s; running anyway",
                  file=sys.stderr)
            return False
        last = now


def _wait_until_idle(servers, timeout: float = 120) -> None:
    """Servers run side by side, so one's background work (codefill growing a
    cold window once its typist stops) would slow the next one's run: wait
    until no codefill server has any pending, then until no server's process
    computes at all (`wait_until_quiet`)."""
    deadline = time.monotonic() + timeout
    for s in servers:
        if not s.label.startswith("codefill"):
            continue
        while time.monotonic() < deadline:
            text = httpx.get(s.url + "/metrics", timeout=10).text
            if not re.search(r"^codefill_cold_window_growth_pending 1", text, re.M):
                break
            time.sleep(0.2)
    wait_until_quiet(servers)
