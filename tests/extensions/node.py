"""Running the editor clients' npm tooling from pytest, and reading its results."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTENSIONS = ROOT / "extensions"
ARTIFACTS = ROOT / "test-artifacts"


def ensure_node_modules() -> None:
    """`npm ci` once if the workspace is not installed (`make test` does it before pytest)."""
    assert shutil.which("npm"), "npm is not installed: the editor clients need Node.js 20 and npm"
    if not (EXTENSIONS / "node_modules" / ".package-lock.json").exists():
        run(["npm", "ci", "--no-audit", "--no-fund"], cwd=EXTENSIONS, timeout=600)


def run(cmd: list[str], *, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def vitest(package: str, *filters: str, env: dict | None = None, min_passed: int, name: str) -> dict:
    """Run vitest in extensions/<package>; assert all tests passed, none skipped, and at least
    `min_passed` of them (so a suite that silently lost its tests fails)."""
    ensure_node_modules()
    ARTIFACTS.mkdir(exist_ok=True)
    report = ARTIFACTS / f"vitest-{name}.json"
    report.unlink(missing_ok=True)
    cwd = EXTENSIONS / package
    proc = subprocess.run(["npx", "vitest", "run", *filters, "--reporter=json", f"--outputFile={report}"],
                          cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=300)
    assert report.exists(), f"vitest wrote no report (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    result = json.loads(report.read_text())
    failures = [f"{t['fullName']}: {' '.join(t.get('failureMessages') or [])[:2000]}"
                for f in result["testResults"] for t in f["assertionResults"] if t["status"] != "passed"]
    assert proc.returncode == 0 and not failures, "\n\n".join(failures) or proc.stderr[-4000:]
    assert result["numPassedTests"] == result["numTotalTests"], result
    assert result["numPassedTests"] >= min_passed, f"only {result['numPassedTests']} tests ran"
    return result
