"""Servers the benchmarks start themselves, on free loopback ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class Server:
    label: str
    url: str
    model: str
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(proc: subprocess.Popen, probe: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(probe, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server not ready after {timeout}s:\n{log.read_text()[-3000:]}")


def _spawn(cmd: list[str], name: str, env: dict | None = None, cwd: str | None = None) -> tuple[subprocess.Popen, Path]:
    log = Path(tempfile.gettempdir()) / f"codefill-bench-{name}.log"
    return subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env, cwd=cwd), log


def source_env(source: str) -> dict:
    """The environment that makes `import codefill` load another source tree
    (e.g. a `git worktree` of an older commit) with this same Python.

    The product's folders import as `codefill.server`, `codefill.models`,
    `codefill.lsp` only through the installed package's mapping, which points
    at the installed tree; a folder of links on PYTHONPATH (searched before
    that mapping) lays out the other tree the same way. Run from that folder
    (env["PWD"]): `python -m` puts the working directory first on sys.path."""
    src = Path(source).resolve()
    if not (src / "codefill" / "cli.py").is_file():
        raise SystemExit(f"{source} is not a codefill source tree (no codefill/cli.py)")
    root = Path(tempfile.mkdtemp(prefix="codefill-src-"))
    pkg = root / "codefill"
    pkg.mkdir()
    for entry in (src / "codefill").iterdir():
        (pkg / entry.name).symlink_to(entry)
    for part in ("server", "models", "lsp"):
        if (src / part).is_dir():
            (pkg / part).symlink_to(src / part)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root), *filter(None, [env.get("PYTHONPATH")])])
    env["PWD"] = str(root)
    check = subprocess.run([sys.executable, "-c", "import codefill.server.app as m; print(m.__file__)"],
                           env=env, capture_output=True, text=True, cwd=root)
    if check.returncode != 0 or not check.stdout.strip().startswith(str(pkg)):
        raise SystemExit(f"could not load codefill from {source}: {check.stdout}{check.stderr[-2000:]}")
    return env


def _source_spawn(source: str | None) -> dict:
    if not source:
        return {}
    env = source_env(source)
    return {"env": env, "cwd": env["PWD"]}


def start_codefill(model: str, *, n_ctx: int = 4096, extra: list[str] | None = None,
                   label: str = "codefill", source: str | None = None, threads: int | None = None,
                   api_key: str | None = None) -> Server:
    """codefill on `model`; from another source tree when `source` is given; `api_key`: one of
    the keys `extra` gives it, to read its model id."""
    port = _free_port()
    proc, log = _spawn([sys.executable, "-m", "codefill.cli", "serve", "--model", model, "--port", str(port),
                        "--n-ctx", str(n_ctx), "--log-level", "warning",
                        *(["--threads", str(threads)] if threads else []), *(extra or [])], label,
                       **_source_spawn(source))
    url = f"http://127.0.0.1:{port}"
    _wait(proc, url + "/ready", log, 120)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    model_id = httpx.get(url + "/v1/models", headers=headers).json()["data"][0]["id"]
    return Server(label, url, model_id, proc)


def start_llama_cpp_server(model_path: str, *, n_ctx: int = 4096, threads: int | None = None) -> Server:
    """llama-cpp-python's own OpenAI server, the obvious alternative, same model."""
    port = _free_port()
    proc, log = _spawn([sys.executable, "-m", "llama_cpp.server", "--model", model_path, "--port", str(port),
                        "--n_ctx", str(n_ctx), "--model_alias", "llama-cpp-server",
                        *(["--n_threads", str(threads), "--n_threads_batch", str(threads)] if threads else [])],
                       "llama-cpp-server")
    url = f"http://127.0.0.1:{port}"
    _wait(proc, url + "/v1/models", log, 120)
    return Server("llama-cpp-python", url, "llama-cpp-server", proc)
