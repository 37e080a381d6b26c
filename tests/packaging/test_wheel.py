"""The wheel a user installs, as a user installs it: `pip wheel . --no-deps`,
installed into a fresh virtualenv, the default model fetched with that
virtualenv's `codefill models fetch default`, and `codefill serve` run from
there in a folder outside the source tree, so nothing is imported from the
checkout. A completion over HTTP shows that the default engine is in the wheel.

The virtualenv's dependencies come from pip's cache. llama-cpp-python is taken
only as a wheel (`--only-binary`): the one this environment was installed
from (`make install` builds it for this CPU, scripts/install/llama-wheel.sh),
so llama.cpp is never compiled here.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import urllib.parse
import zipfile
from pathlib import Path

import httpx
import pytest

from codefill.launch import free_port, spawn, wait_ready
from tests.helpers import ARTIFACTS, ROOT

pytestmark = pytest.mark.integration

# The folders that hold the product, by the import name they have in the wheel.
FOLDERS = {"codefill": "codefill", "server": "codefill/server", "models": "codefill/models", "lsp": "codefill/lsp"}
PLAYGROUND_BUILD = ROOT / "extensions" / "monaco" / "dist"


def _run(cmd: list, *, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _llama_wheels() -> Path:
    """The folder of the llama-cpp-python wheel this environment runs: the file it was installed
    from (`make install` compiles it once for this CPU, scripts/install/llama-wheel.sh), or, where
    pip compiled it from the sdist itself, pip's wheel cache. Nothing is compiled here."""
    dist = importlib.metadata.distribution("llama-cpp-python")
    installed_from = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
    if installed_from.startswith("file://") and installed_from.endswith(".whl"):
        wheel = Path(urllib.parse.unquote(urllib.parse.urlparse(installed_from).path))
        if wheel.is_file():
            return wheel.parent
    listed = subprocess.run([sys.executable, "-m", "pip", "cache", "list", "--format=abspath",
                             f"llama_cpp_python-{dist.version}-*"], capture_output=True, text=True)
    found = [Path(line) for line in listed.stdout.split() if line.endswith(".whl")]
    if not found:
        message = f"no llama-cpp-python {dist.version} wheel to install from (`make install` makes one)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI runs `make test`, which makes it first: missing there is a bug
        pytest.skip(message)
    return found[0].parent


def _clean_env(**extra: str) -> dict:
    """This environment without anything that would make the checkout importable."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--quiet", "-w", out], cwd=ROOT)
    (built,) = out.glob("codefill-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv with the wheel and its dependencies installed."""
    folder = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", folder])
    _run([folder / "bin" / "python", "-m", "pip", "install", "--quiet", "--only-binary", "llama-cpp-python",
          "--find-links", _llama_wheels(), wheel], timeout=600, env=_clean_env())
    return folder


@pytest.fixture(scope="module")
def served(venv, tmp_path_factory):
    """`codefill serve` from the virtualenv's own script, in an empty folder, with the
    default model fetched into a model folder of its own."""
    outside = tmp_path_factory.mktemp("elsewhere")
    env = _clean_env(CODEFILL_MODEL_DIR=str(tmp_path_factory.mktemp("models")))
    fetched = _run([venv / "bin" / "codefill", "models", "fetch", "default"], cwd=outside, env=env)
    assert Path(fetched.stdout.strip().splitlines()[-1]).is_file(), fetched.stdout
    port = free_port()
    log = ARTIFACTS / f"wheel-{port}.log"
    proc = spawn([str(venv / "bin" / "codefill"), "serve", "--port", str(port)], log, env=env, cwd=str(outside))
    url = f"http://127.0.0.1:{port}"
    try:
        model = wait_ready(proc, url + "/ready", log, 120, what="codefill serve (installed wheel)").json()["model"]
        yield url, model, outside, env
    finally:
        proc.terminate()
        proc.wait(10)


def _package_folders() -> list[tuple[Path, str]]:
    """(source folder, its path in the wheel) for every folder of the product that holds Python."""
    out = []
    for top, in_wheel in FOLDERS.items():
        for folder in sorted({p.parent for p in (ROOT / top).rglob("*.py")}):
            out.append((folder, "/".join([in_wheel, *folder.relative_to(ROOT / top).parts])))
    return out


def test_the_wheel_holds_every_package_module_and_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    folders = _package_folders()
    assert any(path == "codefill/server/engines/llama_cpp" for _, path in folders)
    for folder, path in folders:
        assert f"{path}/__init__.py" in names, f"{folder.relative_to(ROOT)} is not a package in the wheel"
        for module in folder.glob("*.py"):
            assert f"{path}/{module.name}" in names, f"{module.relative_to(ROOT)} is missing from the wheel"
    # Data files the code reads at run time (the model catalogue, the FIM families, ...): each must be
    # declared as package data in pyproject.toml.
    data = [f for top in FOLDERS for f in (ROOT / top).rglob("*")
            if f.is_file() and f.suffix not in (".py", ".pyc") and "__pycache__" not in f.parts]
    assert any(f.name == "catalogue.toml" for f in data)
    for f in data:
        top = f.relative_to(ROOT).parts[0]
        path = "/".join([FOLDERS[top], *f.relative_to(ROOT / top).parts])
        assert path in names, f"{f.relative_to(ROOT)} is not in the wheel (pyproject.toml's package-data)"
    stray = sorted(n for n in names if re.match(r"(server|models|lsp|tests)/", n))
    assert not stray, f"bare top-level packages in the wheel: {stray[:5]}"


def test_the_installed_wheel_serves_a_completion_away_from_the_source(served, venv):
    url, model, outside, env = served
    where = _run([venv / "bin" / "python", "-c", "import codefill.server.engines.llama_cpp as m; print(m.__file__)"],
                 cwd=outside, env=env).stdout.strip()
    assert Path(where).is_relative_to(venv), f"imported from {where}, not from the virtualenv"
    r = httpx.post(url + "/v1/completions", timeout=120, json={
        "model": model, "prompt": "def add(a, b):\n    return ", "max_tokens": 8, "temperature": 0})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"].strip(), body
    assert body["usage"]["completion_tokens"] > 0


def test_the_installed_wheel_serves_the_playground_it_was_built_with(served, wheel):
    if not (PLAYGROUND_BUILD / "index.html").is_file():
        pytest.skip("the playground is not built (`make playground`; `make test` builds it)")
    assert "codefill/server/playground_dist/index.html" in zipfile.ZipFile(wheel).namelist()
    url = served[0]
    r = httpx.get(url + "/playground/", timeout=30)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"], r.text[:300]
