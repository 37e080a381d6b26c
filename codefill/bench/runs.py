"""Running the replay benchmark against servers: its labels and configuration
from the command line's arguments, and servers run side by side. Used by
`codefill bench replay` (cli.py) and its vLLM comparison (vllm.py)."""

from __future__ import annotations

import asyncio
import re
import time

import httpx

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


def run_servers(args, servers, workload, *, typists: int | None = None, stop: bool = True) -> list[dict]:
    """Every server on the same workload, alternating per round; stopped afterwards.
    Only codefill's servers are sent the suffix."""
    summaries = []
    try:
        for i in range(args.rounds):
            for s in round_order(servers, i):
                first = None  # the server's run as asked, this round: what a sessionless one is paired with
                for name, dialect, session in _ways(args, s):
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


def _wait_until_idle(servers, timeout: float = 120) -> None:
    """Servers run side by side, so one's background work (codefill growing a
    cold window once its typist stops) would slow the next one's run: wait
    until no codefill server has any pending."""
    deadline = time.monotonic() + timeout
    for s in servers:
        if not s.label.startswith("codefill"):
            continue
        while time.monotonic() < deadline:
            text = httpx.get(s.url + "/metrics", timeout=10).text
            if not re.search(r"^codefill_cold_window_growth_pending 1", text, re.M):
                break
            time.sleep(0.2)
