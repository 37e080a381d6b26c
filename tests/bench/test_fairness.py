"""`codefill bench fairness` on a tiny workload: it starts real servers with two keys (one per
variant), floods as tenant A while tenant B types, and reports B's latency both ways."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_fairness_side_by_side_on_real_servers():
    out = subprocess.run([sys.executable, "-m", "codefill.cli", "bench", "fairness", "--files", "textwrap.py",
                          "--places", "1", "--lines", "1", "--flood", "3", "--max-tokens", "8", "--json",
                          "--variant", "two-sequences=--sequences 2"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    reports = json.loads(out.stdout)
    assert list(reports) == ["codefill", "codefill[two-sequences]"]
    for report in reports.values():
        alone, flooded = report["alone"], report["flooded"]
        assert alone["requests"] == alone["completed"] > 0 and alone["errors"] == 0
        assert flooded["requests"] == flooded["completed"] == alone["requests"] and flooded["errors"] == 0
        assert report["flood"]["completed"] > 0 and report["flood"]["errors"] == 0
        assert report["p50_ratio"] > 0
