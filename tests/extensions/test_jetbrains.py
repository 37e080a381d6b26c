"""The JetBrains plugin's core (plain Kotlin + JDK), compiled with Debian's
kotlinc and run here: unit tests, then against the live server. The
IntelliJ glue and the Gradle build cannot be built on this machine (no
Gradle or IntelliJ Platform downloads): see extensions/jetbrains/README.md."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from .node import ARTIFACTS, EXTENSIONS

PLUGIN = EXTENSIONS / "jetbrains"


@pytest.fixture(scope="module")
def core_tests_jar():
    kotlinc = shutil.which("kotlinc")
    assert kotlinc, "kotlinc is missing: `make client-deps` installs Debian's kotlin package"
    ARTIFACTS.mkdir(exist_ok=True)
    jar = ARTIFACTS / "jetbrains-core-tests.jar"
    jar.unlink(missing_ok=True)
    proc = subprocess.run([kotlinc, "src/main/kotlin/dev/codefill/core", "src/test/kotlin", "-include-runtime",
                           "-d", str(jar)], cwd=PLUGIN, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and jar.exists(), proc.stdout + proc.stderr
    return jar


def run_jar(jar, *args: str) -> tuple[int, int, str]:
    proc = subprocess.run(["java", "-jar", str(jar), *args], capture_output=True, text=True, timeout=180)
    out = proc.stdout + proc.stderr
    last = re.search(r"^(\d+) passed, (\d+) failed$", out, re.M)
    assert last, out
    passed, failed = int(last.group(1)), int(last.group(2))
    assert proc.returncode == (0 if failed == 0 else 1), out
    return passed, failed, out


def test_jetbrains_core_unit_tests(core_tests_jar):
    passed, failed, out = run_jar(core_tests_jar)
    assert failed == 0, out
    assert passed >= 19, out


def test_jetbrains_core_against_live_server(core_tests_jar, live_server):
    passed, failed, out = run_jar(core_tests_jar, "--live", live_server.url)
    assert failed == 0, out
    assert out.count("PASS live:") >= 6, out
