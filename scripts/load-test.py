"""Load test: many editor-like clients for a bounded time, with random mid-stream
disconnects and cancellations, then checks that the server is whole.

Usage: .venv/bin/python scripts/load-test.py [--clients 50] [--duration 60] [--url URL [--admin-key KEY]]
                                             [--disconnect 0.15] [--cancel 0.1] [--serve-arg=--max-pending=32]
                                             [--tenants 2] [--deadline-ms 1500]

Without --url it starts its own `codefill serve` on a free loopback port (so it
can read the server's memory); with --url the server must be on loopback.
Each client is one editor session (`user`): it sends a completion for a random
place in a standard-library file (prompt + suffix, single-line or block mode,
streamed or not), and with some probability leaves a stream after its first
chunk or cancels a request after a random delay. Refusals count as answers:
429/503 with Retry-After (a full server says so at once: its admission bound,
or a projected wait longer than --max-queue-wait) and 408 when a request ran
past the server's --request-timeout (latency stays bounded), and with
--deadline-ms (what the editor clients send) a 503 `deadline_exceeded` for one
dropped because its deadline could not be met. The latency
percentiles are the answered requests' only; refusals are counted apart.

Afterwards: admitted requests and HTTP requests in flight back to zero, memory
compared with its level after a warm-up (same sessions, so the engine's
per-session KV states exist in both) less what the engine's saved session
states grew by (they are kept in RAM on purpose, up to --session-cache-mb; read
from the admin API's `saved_bytes`, so the server gets an admin key: its own,
or --admin-key with --url; without one all growth counts), no 5xx, no stream that ended without
[DONE] unless the client left it, no traceback in the server log, and a last
completion answered. Exit status 0 only when all of that holds.

With --tenants N (a server it starts), the server gets N API keys and the
clients are spread over them, the same `user` names in every tenant: a
request of one tenant superseding another's (a 409) counts as a failure, and
every tenant must show up in the per-tenant token counters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codefill.bench.workload import DEFAULT_FILES, stdlib_file  # noqa: E402
from codefill.launch import ServerFailed, start_codefill  # noqa: E402

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load (the run is bounded by it)")
    p.add_argument("--url", help="a running server on loopback (default: start one)")
    p.add_argument("--api-key", help="sent as Bearer key")
    p.add_argument("--admin-key", help="with --url: the server's --admin-key, to read its saved session states")
    p.add_argument("--tenants", type=int, default=1, help="API keys the server it starts gets; clients take turns")
    p.add_argument("--disconnect", type=float, default=0.15, help="share of streams left after the first chunk")
    p.add_argument("--cancel", type=float, default=0.10, help="share of requests cancelled after a random delay")
    p.add_argument("--stream", type=float, default=0.7, help="share of requests streamed")
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--deadline-ms", type=int, default=0,
                   help="sent as deadline_ms, as the editor clients send 1500 (0: not sent)")
    p.add_argument("--lines", type=int, default=30, help="lines before the cursor in each prompt")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--serve-arg", action="append", default=[], help="extra `codefill serve` argument (repeat)")
    p.add_argument("--settle", type=float, default=30.0, help="seconds allowed for in-flight work to drain")
    p.add_argument("--memory-slack-mb", type=float, default=64.0,
                   help="how far above the warm-up level memory may stay afterwards")
    return p.parse_args(argv)


# --- the workload ----------------------------------------------------------------

def load_places(rng: random.Random, lines_before: int, count: int = 400) -> list[tuple[str, str]]:
    files = [stdlib_file(name).read_text().split("\n") for name in DEFAULT_FILES]
    places = []
    for _ in range(count):
        lines = rng.choice(files)
        row = rng.randrange(5, len(lines) - 5)
        line = lines[row]
        col = rng.randrange(0, len(line) + 1)
        prefix = "\n".join(lines[max(0, row - lines_before):row] + [line[:col]])
        suffix = "\n".join([line[col:]] + lines[row + 1:row + 15])
        places.append((prefix, suffix))
    return places


class Tally:
    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.latency: list[float] = []  # whole answers
        self.first_token: list[float] = []  # streams
        self.problems: list[str] = []

    def problem(self, what: str) -> None:
        self.outcomes["failed"] += 1
        if len(self.problems) < 20:
            self.problems.append(what)


async def one_request(client: httpx.AsyncClient, body: dict, rng: random.Random, args, tally: Tally) -> None:
    leave_stream = body["stream"] and rng.random() < args.disconnect
    cancel_after = rng.uniform(0.05, 1.5) if rng.random() < args.cancel else None
    started = time.monotonic()

    async def run() -> None:
        if not body["stream"]:
            r = await client.post("/v1/completions", json=body)
            if tally_status(r, r.text, body, tally):
                r.json()["choices"][0]["text"]
                tally.latency.append(time.monotonic() - started)
                tally.outcomes["answered"] += 1
            return
        async with client.stream("POST", "/v1/completions", json=body) as r:
            if not tally_status(r, "" if r.status_code == 200 else (await r.aread()).decode(errors="replace"),
                                body, tally):
                return
            done = False
            async for line in r.aiter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    done = True
                    break
                event = json.loads(data)
                if "error" in event:
                    if event["error"]["code"] == "request_timeout":
                        tally.outcomes["refused 408 (in stream)"] += 1
                    elif event["error"]["code"] == "deadline_exceeded":
                        tally.outcomes["refused 503 (deadline, in stream)"] += 1
                    else:
                        tally.problem(f"stream error: {event['error']}")
                    return
                elif not tally_first(event, started, tally, body):
                    continue
                if leave_stream:
                    tally.outcomes["left mid-stream"] += 1
                    return  # closing the response drops the connection
            if done:
                tally.latency.append(time.monotonic() - started)
                tally.outcomes["answered"] += 1
            else:
                tally.problem("stream ended without [DONE]")

    try:
        if cancel_after is None:
            await run()
        else:
            await asyncio.wait_for(run(), cancel_after)
    except TimeoutError:
        tally.outcomes["cancelled"] += 1
    except httpx.HTTPError as exc:
        tally.problem(f"{type(exc).__name__}: {exc}")


def refusal(r: httpx.Response) -> bool:
    """A clear, bounded "not now": busy or rate-limited with Retry-After, over the request time limit, or
    dropped because its deadline_ms could not be met."""
    if r.status_code == 503 and "retry-after" not in r.headers:
        try:
            return r.json()["error"]["code"] == "deadline_exceeded"
        except (ValueError, KeyError, TypeError):
            return False
    return (r.status_code in (429, 503) and "retry-after" in r.headers) or r.status_code == 408


def tally_status(r: httpx.Response, text: str, body: dict, tally: Tally) -> bool:
    """Counts the response's status; True for a 200. Anything else is a refusal (remembering its
    Retry-After for the next request) or a problem."""
    tally.statuses[r.status_code] += 1
    if r.status_code == 200:
        return True
    if refusal(r):
        tally.outcomes[f"refused {r.status_code}"] += 1
        body["_retry_after"] = r.headers.get("retry-after")
    else:
        tally.problem(f"{r.status_code}: {text[:200]}")
    return False


def tally_first(event: dict, started: float, tally: Tally, body: dict) -> bool:
    """Records time to first text; True once a chunk with text has come."""
    text = event["choices"][0]["text"] if event.get("choices") else ""
    if text and not body.get("_first"):
        body["_first"] = True
        tally.first_token.append(time.monotonic() - started)
    return bool(text)


def tenant_keys(n: int) -> list[tuple[str, str]]:
    return [(f"tenant-{k}", f"load-test-key-{k:04d}") for k in range(n)] if n > 1 else []


async def client_loop(i: int, url: str, headers: dict, model: str, places, args, tally: Tally, stop_at: float,
                      once: bool = False) -> None:
    keys = tenant_keys(args.tenants)
    if keys:  # client i is tenant i % N, with the same `user` names in every tenant
        headers = {"Authorization": f"Bearer {keys[i % len(keys)][1]}"}
    user = f"load-{i // len(keys) if keys else i}"
    rng = random.Random(args.seed * 1000 + i)
    # A few connections: one a client left (or cancelled) may still be closing when it sends the next.
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120,
                                 limits=httpx.Limits(max_connections=4)) as client:
        while time.monotonic() < stop_at:
            prefix, suffix = rng.choice(places)
            body = {"model": model, "prompt": prefix, "suffix": suffix, "max_tokens": args.max_tokens,
                    "stream": rng.random() < args.stream, "user": user,
                    "mode": rng.choice(["auto", "auto", "single_line", "multi_line"])}
            if args.deadline_ms:
                body["deadline_ms"] = args.deadline_ms
            await one_request(client, body, rng, args, tally)
            if once:
                return
            if body.get("_retry_after"):  # as a well-behaved client does
                await asyncio.sleep(min(5.0, float(body["_retry_after"])) * rng.uniform(0.5, 1.0))
            await asyncio.sleep(rng.uniform(0.0, 0.3))  # typing between requests


# --- the server --------------------------------------------------------------------

def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(m.group(1)) / 1024 if m else None


def saved_states_mb(url: str, admin_key: str | None) -> float | None:
    """What the engine keeps of idle sessions' KV states in RAM (admin API `saved_bytes`), in MB;
    None without an admin key or an engine that keeps none."""
    if not admin_key:
        return None
    try:
        r = httpx.get(url + "/admin/cache", headers={"Authorization": f"Bearer {admin_key}"}, timeout=10)
        saved = (r.json().get("engine") or {}).get("saved_bytes") if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    return saved / 2**20 if saved is not None else None


def metric(text: str, name: str) -> float:
    total = 0.0
    for m in re.finditer(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", text, re.M):
        total += float(m.group(1))
    return total


async def main_async(args) -> int:
    server = None
    if args.url and args.tenants > 1:
        raise SystemExit("load-test: --tenants gives keys to a server it starts itself (leave out --url)")
    if args.url:
        if urlparse(args.url).hostname not in LOOPBACK:
            raise SystemExit("load-test: only a server on loopback (127.0.0.1, localhost, ::1) may be loaded")
        url = args.url.rstrip("/")
    else:
        keys = [f"--api-key={name}={key}" for name, key in tenant_keys(args.tenants)]
        args.admin_key = f"load-test-admin-{random.randrange(16**12):012x}"
        try:
            server = start_codefill(*args.serve_arg, *keys, f"--admin-key={args.admin_key}", label="load")
        except ServerFailed as exc:
            raise SystemExit(str(exc)) from None
        url = server.url
    pid = server.process.pid if server else None
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    if tenant_keys(args.tenants):
        headers = {"Authorization": f"Bearer {tenant_keys(args.tenants)[0][1]}"}
    try:
        model = httpx.get(url + "/v1/models", headers=headers).json()["data"][0]["id"]
        places = load_places(random.Random(args.seed), args.lines)
        print(f"server {url} model {model}; {args.clients} clients for {args.duration:g} s "
              f"(streams {args.stream:.0%}, left mid-stream {args.disconnect:.0%}, cancelled {args.cancel:.0%})",
              flush=True)

        warm = Tally()
        t = time.monotonic()
        await asyncio.gather(*(client_loop(i, url, headers, model, places, args, warm, t + 3600, once=True)
                               for i in range(args.clients)))
        baseline = rss_mb(pid)
        saved_before = saved_states_mb(url, args.admin_key)
        print(f"warm-up: {sum(warm.outcomes.values())} requests in {time.monotonic() - t:.1f} s, "
              f"memory {baseline or float('nan'):.0f} MB, saved session states "
              f"{saved_before if saved_before is not None else float('nan'):.0f} MB", flush=True)

        tally = Tally()
        started = time.monotonic()
        stop_at = started + args.duration
        peak = baseline or 0.0
        tasks = [asyncio.create_task(client_loop(i, url, headers, model, places, args, tally, stop_at))
                 for i in range(args.clients)]
        while not all(task.done() for task in tasks):
            await asyncio.sleep(min(5.0, max(0.1, stop_at - time.monotonic())) if time.monotonic() < stop_at else 1.0)
            peak = max(peak, rss_mb(pid) or 0.0)
            p50 = statistics.median(tally.latency) if tally.latency else float("nan")
            print(f"  {time.monotonic() - started:5.1f} s  " + "  ".join(f"{k} {v}" for k, v in
                  sorted(tally.outcomes.items())) + f"  p50 {p50:.2f} s  memory {rss_mb(pid) or float('nan'):.0f} MB",
                  flush=True)
            if time.monotonic() > stop_at + 180:
                print("clients did not finish 180 s after the end", flush=True)
                for task in tasks:
                    task.cancel()
                break
        wall = time.monotonic() - started

        # Settle: everything admitted must be given back.
        deadline = time.monotonic() + args.settle
        while True:
            text = httpx.get(url + "/metrics", timeout=10).text
            pending, in_flight = metric(text, "codefill_admission_pending"), metric(text, "codefill_http_requests_in_flight")
            if (pending == 0 and in_flight <= 1) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        after = rss_mb(pid)
        saved_after = saved_states_mb(url, args.admin_key)
        # Session states the engine keeps on purpose (bounded by --session-cache-mb) are not a leak.
        states_grew = (saved_after - saved_before) if saved_before is not None and saved_after is not None else 0.0
        growth = (after - baseline - states_grew) if baseline is not None and after is not None else None
        # 503 with Retry-After is the admission bound doing its job (also for requests whose client had
        # already given up, so the count can exceed what the clients saw); anything else 5xx is a fault.
        errors_5xx = sum(float(m.group(1)) for m in re.finditer(
            r'^codefill_http_requests_total\{endpoint="/v1/[^}]*status="5(?!03)\d\d"[^}]*\} (\S+)$', text, re.M))
        busy_503 = sum(float(m.group(1)) for m in re.finditer(
            r'^codefill_http_requests_total\{endpoint="/v1/[^}]*status="503"[^}]*\} (\S+)$', text, re.M))
        cancelled_server = metric(text, "codefill_completions_cancelled_total")
        tenants_seen = [name for name, _ in tenant_keys(args.tenants)
                        if metric(text, f'codefill_tenant_tokens_total{{key="{name}",kind="prompt"}}') > 0]
        final = httpx.post(url + "/v1/completions", headers=headers, timeout=120,
                           json={"model": model, "prompt": "def add(a, b):\n    return ", "max_tokens": 8})
        tracebacks = server.log().count("Traceback") if server else None

        total = sum(tally.outcomes.values())
        lat = sorted(tally.latency)
        ttft = sorted(tally.first_token)

        def pct(xs, q):
            return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

        print("\nresult")
        print(f"  requests          {total} in {wall:.1f} s ({total / wall:.1f}/s)")
        for k, v in sorted(tally.outcomes.items()):
            print(f"  {k:17} {v}")
        print(f"  statuses          {dict(sorted(tally.statuses.items()))}")
        refused = sum(v for k, v in tally.outcomes.items() if k.startswith("refused"))
        print(f"  latency (answered, {len(lat)}) p50 {pct(lat, .5):.2f} s  p90 {pct(lat, .9):.2f} s  "
              f"p99 {pct(lat, .99):.2f} s  (refusals apart: {refused})")
        print(f"  first token (streams) p50 {pct(ttft, .5):.2f} s  p90 {pct(ttft, .9):.2f} s")
        print(f"  server: cancelled {cancelled_server:.0f}, 503 busy {busy_503:.0f}, other 5xx {errors_5xx:.0f}, admitted after {pending:.0f}, "
              f"in flight after {in_flight:.0f} (the /metrics call itself)")
        if growth is not None:
            states = (f"saved session states {saved_before:.0f} -> {saved_after:.0f} MB ({states_grew:+.0f} MB)"
                      if saved_before is not None and saved_after is not None else "saved session states unknown "
                      "(no admin key): all growth counts")
            print(f"  memory: warm-up {baseline:.0f} MB, peak {peak:.0f} MB, after {after:.0f} MB "
                  f"({after - baseline:+.0f} MB); {states}")
            print(f"  memory growth beyond saved session states {growth:+.0f} MB (slack {args.memory_slack_mb:.0f} MB)")
        print(f"  still answering: {final.status_code}; tracebacks in server log: {tracebacks}")
        if args.tenants > 1:
            print(f"  tenants with tokens counted: {len(tenants_seen)} of {args.tenants}")
        for p in tally.problems:
            print(f"  problem: {p}")
        ok = (tally.outcomes["failed"] == 0 and errors_5xx == 0 and pending == 0 and in_flight <= 1
              and final.status_code == 200 and not tracebacks and len(tenants_seen) == len(tenant_keys(args.tenants))
              and (growth is None or growth <= args.memory_slack_mb))
        print("OK" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        if server is not None:
            server.stop(15)


def main(argv=None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
