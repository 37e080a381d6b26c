"""What the gateway hop costs: one upstream `codefill serve`, a gateway in
front of it (`--upstream`), and the same completions asked of both, alternating,
in one run. Prints the median and 90th percentile of each and the difference.

    .venv/bin/python scripts/gateway-overhead.py [--requests 40]

Each request repeats the previous prompt plus one typed character (as an editor
does), so the upstream's cache is warm and the model's work is small: what is
left is mostly HTTP, templating and the extra hop.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

import httpx

from codefill.launch import start_codefill

PREFIX = "import os\n\n\ndef list_python_files(root):\n    result = []\n    for name in os.listdir(root):\n        if "
SUFFIX = "\n    return result\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=40, help="per server")
    args = ap.parse_args()
    upstream = start_codefill("--threads", "1", label="overhead-upstream")
    gateway = start_codefill("--upstream", upstream.url, label="overhead-gateway")
    times: dict[str, list[float]] = {"direct": [], "gateway": []}
    try:
        with httpx.Client(timeout=60) as client:
            typed = ""
            for i in range(args.requests):
                typed += "name.endswith('.py')"[i % 20]
                for label, server in (("direct", upstream), ("gateway", gateway)):
                    body = {"model": server.model, "prompt": PREFIX + typed, "suffix": SUFFIX, "max_tokens": 16,
                            "user": f"{label}-typist"}
                    started = time.perf_counter()
                    r = client.post(server.url + "/v1/completions", json=body)
                    r.raise_for_status()
                    times[label].append(time.perf_counter() - started)
    finally:
        gateway.stop()
        upstream.stop()

    def p90(xs: list[float]) -> float:
        return sorted(xs)[int(0.9 * (len(xs) - 1))]

    for label, xs in times.items():
        print(f"{label:8} n={len(xs)}  median {statistics.median(xs) * 1000:6.1f} ms  p90 {p90(xs) * 1000:6.1f} ms")
    diff = statistics.median(times["gateway"]) - statistics.median(times["direct"])
    print(f"gateway hop: {diff * 1000:+.1f} ms at the median")
    print("cpu:", subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(), "cores")


if __name__ == "__main__":
    main()
