"""A short run of scripts/load-test.py: a few editor-like clients with random
mid-stream disconnects and cancellations against a live server, then no
leaked admissions or in-flight requests, no 5xx, memory near its warm-up
level, and the server still answering. (The full run, 50 clients for 60 s,
is in docs/BENCHMARKS.md.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("tenants", [1, 2])
def test_short_load_run_leaves_the_server_whole(tenants):
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "load-test.py"), "--clients", "6", "--duration", "8",
         "--disconnect", "0.3", "--cancel", "0.2", "--max-tokens", "16", "--settle", "60",
         "--serve-arg=--threads=1", "--serve-arg=--request-timeout=60", "--tenants", str(tenants)],
        capture_output=True, text=True, timeout=400)
    print(out.stdout[-3000:], out.stderr[-2000:])
    assert out.returncode == 0, out.stdout[-3000:]
    assert "admitted after 0" in out.stdout and "still answering: 200" in out.stdout
    assert "left mid-stream" in out.stdout or "cancelled" in out.stdout  # the faults did happen
    if tenants > 1:  # same `user` names in both tenants: no 409 (a failure), both counted
        assert f"tenants with tokens counted: {tenants} of {tenants}" in out.stdout
