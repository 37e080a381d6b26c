"""`codefill bench fairness`: one tenant floods the server while another types.

Tenant B is the replay benchmark's typist (closed loop, one typist). It types
the workload alone first, then again while tenant A keeps `flood` requests in
flight at all times (editor-sized windows from the same workload, each flood
worker its own session, closed loop). Prints B's latency both times and the
ratio of the medians: with fair sharing B's p50 under the flood stays within a
small factor of B alone, instead of queueing behind A's whole backlog.

Each phase uses its own `user` names, and B's cached state is dropped between
the phases (the admin API), so B's second run finds nothing of its first
(saved KV states, shared heads, typing-through memory) and the two runs cost
the same work.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shlex
import sys
import time
from dataclasses import dataclass

import httpx

from .replay import RunConfig, format_table, run
from .servers import add_other_codefill_arguments
from .workload import DEFAULT_FILES, Place, workload_from_args

FLOOD_KEY = "bench-flood-key-0001"
TYPIST_KEY = "bench-typist-key-0001"
ADMIN_KEY = "bench-admin-key-0001"


@dataclass
class Flood:
    sent: int = 0
    completed: int = 0
    errors: int = 0


async def _flood(url: str, model: str, key: str, workload: list[Place], workers: int, max_tokens: int,
                 stop: asyncio.Event, stats: Flood) -> None:
    strokes = itertools.cycle([s for p in workload for s in p.keystrokes][::-1])  # A types elsewhere than B

    async def worker(i: int) -> None:
        async with httpx.AsyncClient(timeout=300, headers={"Authorization": f"Bearer {key}"}) as client:
            while not stop.is_set():
                stroke = next(strokes)
                stats.sent += 1
                try:
                    r = await client.post(url + "/v1/completions", json={
                        "model": model, "prompt": stroke.prefix, "suffix": stroke.suffix, "max_tokens": max_tokens,
                        "temperature": 0, "user": f"flood-{i}"})
                    stats.completed += r.status_code == 200
                    stats.errors += r.status_code != 200
                except httpx.HTTPError:
                    stats.errors += 1

    await asyncio.gather(*(worker(i) for i in range(workers)))


async def measure(url: str, model: str, workload: list[Place], *, flood: int = 20, max_tokens: int = 32,
                  flood_key: str = FLOOD_KEY, typist_key: str = TYPIST_KEY, admin_key: str | None = None,
                  typist_name: str = "typist") -> dict:
    """B alone, then B under A's flood; summaries and the p50 ratio."""
    alone = await run(RunConfig(url=url, model=model, max_tokens=max_tokens, label="B alone", api_key=typist_key,
                                user="typist-alone"), workload)
    if admin_key:  # B's second run starts as cold as its first
        async with httpx.AsyncClient(timeout=60) as client:
            r = await client.post(url + "/admin/cache/drop", json={"tenant": typist_name},
                                  headers={"Authorization": f"Bearer {admin_key}"})
            r.raise_for_status()
    stop, stats = asyncio.Event(), Flood()
    flooding = asyncio.create_task(_flood(url, model, flood_key, workload, flood, max_tokens, stop, stats))
    await asyncio.sleep(1.0)  # the flood is in full swing before B starts
    started = time.monotonic()
    try:
        busy = await run(RunConfig(url=url, model=model, max_tokens=max_tokens, label=f"B under A's flood of {flood}",
                                   api_key=typist_key, user="typist-flood"), workload)
    finally:
        stop.set()
        await flooding
    a, b = alone.summary(), busy.summary()
    ratio = round(b["p50_ms"] / a["p50_ms"], 2) if a["p50_ms"] and b["p50_ms"] else None
    return {"alone": a, "flooded": b, "p50_ratio": ratio,
            "flood": {"workers": flood, "sent": stats.sent, "completed": stats.completed, "errors": stats.errors,
                      "throughput_rps": round(stats.completed / (time.monotonic() - started), 2)}}


def format_report(report: dict) -> str:
    f = report["flood"]
    return (format_table([report["alone"], report["flooded"]])
            + f"\nA's flood: {f['workers']} requests in flight, {f['completed']} answered, {f['errors']} errors, "
              f"{f['throughput_rps']} rps"
            + f"\nB's p50 under the flood / alone: {report['p50_ratio']}x (target: within 2x)")


def format_side_by_side(reports: dict[str, dict]) -> str:
    """One line per server: B alone, B flooded, the ratio, and what A got meanwhile."""
    head = f"{'server':<24} {'B alone p50':>12} {'B flooded p50':>14} {'p90':>8} {'ratio':>6} {'A rps':>6}"
    lines = [head, "-" * len(head)]
    for name, r in reports.items():
        a, b = r["alone"], r["flooded"]
        lines.append(f"{name:<24} {a['p50_ms']:>10} ms {b['p50_ms']:>11} ms {b['p90_ms']:>5} ms "
                     f"{r['p50_ratio']!s:>5}x {r['flood']['throughput_rps']:>6}")
    return "\n".join(lines)


def add_fairness(bsub) -> None:
    f = bsub.add_parser("fairness", help="one tenant floods the server while another types",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                        description="Tenant B types the replay workload alone, then again while tenant A keeps "
                                    "--flood requests in flight; prints B's latency both times and the ratio of "
                                    "the medians. Starts its own codefill with two keys unless --url is given.")
    f.add_argument("--url", help="a running codefill server (needs --flood-key and --typist-key)")
    f.add_argument("--flood-key", help="tenant A's API key, with --url")
    f.add_argument("--typist-key", help="tenant B's API key, with --url")
    f.add_argument("--admin-key", help="with --url: the server's admin key, to drop B's cache between the phases")
    f.add_argument("--typist-name", default="typist", help="with --url and --admin-key: B's key name")
    f.add_argument("--model-file", default="default", help="model of the server it starts (path or catalogue name)")
    f.add_argument("--serve-args", default="", help="extra `codefill serve` arguments of the server it starts")
    add_other_codefill_arguments(f)
    f.add_argument("--flood", type=int, default=20, help="tenant A's requests in flight")
    f.add_argument("--files", default=",".join(DEFAULT_FILES), help="standard-library files to type")
    f.add_argument("--places", type=int, default=1, help="places per file")
    f.add_argument("--lines", type=int, default=2, help="consecutive lines typed at each place")
    f.add_argument("--max-tokens", type=int, default=32)
    f.add_argument("--seed", type=int, default=0, help="chooses the places")
    f.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    f.set_defaults(func=cmd_fairness)


def cmd_fairness(args: argparse.Namespace) -> int:
    workload = workload_from_args(args)
    if workload is None:
        return 2
    print(f"fairness: {sum(len(p.keystrokes) for p in workload)} keystrokes for B, A floods {args.flood}",
          file=sys.stderr)
    if args.url:
        if not (args.flood_key and args.typist_key):
            print("codefill: error: --url needs --flood-key and --typist-key", file=sys.stderr)
            return 2
        keys = (args.flood_key, args.typist_key)
        model = httpx.get(args.url + "/v1/models",
                          headers={"Authorization": f"Bearer {keys[1]}"}).json()["data"][0]["id"]
        report = asyncio.run(measure(args.url, model, workload, flood=args.flood, max_tokens=args.max_tokens,
                                     flood_key=keys[0], typist_key=keys[1], admin_key=args.admin_key,
                                     typist_name=args.typist_name))
        print(json.dumps(report, indent=2) if args.json else format_report(report))
        return 0
    from codefill.models.store import resolve_model

    from .servers import other_codefills, start_codefill

    path = str(resolve_model(args.model_file))
    keys = (FLOOD_KEY, TYPIST_KEY)
    key_args = ["--api-key", f"flood={keys[0]}", "--api-key", f"typist={keys[1]}", "--admin-key", ADMIN_KEY]
    common = shlex.split(args.serve_args)
    servers = [("codefill", None, common)]
    servers += [(label, source, common + extra) for label, source, extra in other_codefills(args.variant, args.source)]
    reports = {}
    for label, source, extra in servers:  # one server at a time: they would only compete for the cores
        print(f"fairness: {label}", file=sys.stderr)
        server = start_codefill(path, api_key=keys[1], label=label, source=source, extra=[*key_args, *extra])
        try:
            reports[label] = asyncio.run(measure(server.url, server.model, workload, flood=args.flood,
                                                 max_tokens=args.max_tokens, flood_key=keys[0],
                                                 typist_key=keys[1], admin_key=ADMIN_KEY))
        finally:
            server.stop()
        if not args.json:
            print(f"\n## {label}\n{format_report(reports[label])}", flush=True)
    if args.json:
        print(json.dumps(reports, indent=2))
    elif len(reports) > 1:
        print("\n" + format_side_by_side(reports))
    return 0
