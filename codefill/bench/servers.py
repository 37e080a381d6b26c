"""Servers the benchmarks start themselves, on free loopback ports."""

from __future__ import annotations

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


def _spawn(cmd: list[str], name: str) -> tuple[subprocess.Popen, Path]:
    log = Path(tempfile.gettempdir()) / f"codefill-bench-{name}.log"
    return subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT), log


def start_codefill(model: str, *, n_ctx: int = 4096, extra: list[str] | None = None,
                   label: str = "codefill") -> Server:
    port = _free_port()
    proc, log = _spawn([sys.executable, "-m", "codefill.cli", "serve", "--model", model, "--port", str(port),
                        "--n-ctx", str(n_ctx), "--log-level", "warning", *(extra or [])], label)
    url = f"http://127.0.0.1:{port}"
    _wait(proc, url + "/ready", log, 120)
    model_id = httpx.get(url + "/v1/models").json()["data"][0]["id"]
    return Server(label, url, model_id, proc)


def start_llama_cpp_server(model_path: str, *, n_ctx: int = 4096) -> Server:
    """llama-cpp-python's own OpenAI server, the obvious alternative, same model."""
    port = _free_port()
    proc, log = _spawn([sys.executable, "-m", "llama_cpp.server", "--model", model_path, "--port", str(port),
                        "--n_ctx", str(n_ctx), "--model_alias", "llama-cpp-server"], "llama-cpp-server")
    url = f"http://127.0.0.1:{port}"
    _wait(proc, url + "/v1/models", log, 120)
    return Server("llama-cpp-python", url, "llama-cpp-server", proc)
