#!/usr/bin/env bash
# Seconds from `codefill serve` starting to /ready answering 200, N times.
# Usage: scripts/time-to-ready.sh [RUNS] [PORT]
set -euo pipefail
runs=${1:-5}
port=${2:-8013}
cd "$(dirname "$0")/.."
for i in $(seq "$runs"); do
  start=$(date +%s.%N)
  .venv/bin/codefill serve --port "$port" >/dev/null 2>&1 &
  pid=$!
  until curl -sf "127.0.0.1:$port/ready" >/dev/null; do sleep 0.02; done
  end=$(date +%s.%N)
  python3 -c "print(f'run $i: {$end - $start:.2f} s')"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
