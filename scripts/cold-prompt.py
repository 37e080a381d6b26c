"""Seconds for a cold ~1,500-token prompt (nothing of it cached), one line answered.

Usage: .venv/bin/python scripts/cold-prompt.py [URL] [RUNS]
Each run sends a different prompt (a stdlib file's lines, shifted), so nothing is cached."""

import statistics
import sys
import time

import httpx

from codefill.bench.workload import stdlib_file

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
model = httpx.get(url + "/v1/models").json()["data"][0]["id"]
lines = stdlib_file("argparse.py").read_text().split("\n")
times = []
for i in range(runs):
    start = 300 + 400 * i
    prompt = "\n".join(lines[start : start + 180]) + "\n"
    t = time.monotonic()
    r = httpx.post(url + "/v1/completions", json={"model": model, "prompt": prompt, "suffix": "\n", "max_tokens": 16,
                                                  "mode": "single_line"}, timeout=120).json()
    times.append(time.monotonic() - t)
    print(f"run {i + 1}: {r['usage']['prompt_tokens']} prompt tokens "
          f"({r['usage']['prompt_tokens_details']['cached_tokens']} cached), {times[-1]:.2f} s", flush=True)
print(f"median {statistics.median(times):.2f} s")
