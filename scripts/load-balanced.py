"""Replicas behind nginx against one server: the same replay, typed by the
same typists, once through nginx (the shipped deploy/nginx/codefill.conf) in
front of N `codefill serve` replicas, and once against one more server of the
same kind alone (started with them, so both runs begin with cold caches).
Prints the replay's results for both and how nginx spread the sessions.

    .venv/bin/python scripts/load-balanced.py [--replicas 3] [--threads 2] [-- REPLAY ARGS]

Replay arguments after `--` go to `codefill bench replay` (default: 8 typists,
open loop). Each replica gets --threads cores; on a machine with fewer than
(replicas + 1) x threads cores the servers compete for them (the one alone
idles during the first run) and the comparison shows only the load
balancer's overhead.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from codefill.bench.nginx import ROOT, shipped_config, start_nginx, stop_nginx
from codefill.launch import free_port, start_codefill

ARTIFACTS = ROOT / "test-artifacts"


def start_replicas(count: int, *serve_args: str) -> list:
    """`count` servers started side by side; if one fails, the others are stopped too."""
    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(start_codefill, *serve_args, label=f"replica{i}", ready_timeout=600)
                   for i in range(count)]
    started = [f.result() for f in futures if f.exception() is None]
    if len(started) < count:
        for server in started:
            server.stop()
        raise next(f.exception() for f in futures if f.exception() is not None)
    return started


def replay(url: str, args: list[str]) -> None:
    print(f"\n>>> codefill bench replay --url {url} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "codefill.cli", "bench", "replay", "--url", url, *args], check=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--replicas", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="llama.cpp threads per replica")
    p.add_argument("replay_args", nargs="*", help="after --: arguments for `codefill bench replay`")
    args = p.parse_args()
    replay_args = args.replay_args or ["--typists", "8", "--open-loop"]

    *replicas, alone = start_replicas(args.replicas + 1, "--threads", str(args.threads))
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    access_log = ARTIFACTS / f"nginx-bench-{port}.log"
    with open(access_log, "w") as log, tempfile.TemporaryDirectory() as folder:
        nginx = start_nginx(Path(folder), shipped_config(port, [r.url.removeprefix("http://") for r in replicas]),
                            stdout=log)
        try:
            replay(f"http://127.0.0.1:{port}", replay_args)
            replay(alone.url, replay_args)
        finally:
            stop_nginx(nginx)
            for r in (*replicas, alone):
                r.stop()
    sessions = Counter()
    for line in access_log.read_text().splitlines():
        m = re.search(r'"POST /v1/completions.* upstream=(\S+) .*session="([^"]*)"', line)
        if m:
            sessions[(m.group(2), m.group(1))] += 1
    print(f"\nnginx: requests per (session, replica), from {access_log.name}:")
    for (session, replica), n in sorted(sessions.items()):
        print(f"  {session:<12} {replica:<22} {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
