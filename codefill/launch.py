"""Starting servers on free loopback ports, for tests, benchmarks and scripts:
`codefill serve` (or any server command) as a subprocess, its output in a log
file, waited for until its readiness URL answers 200, and stopped cleanly."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


class ServerFailed(RuntimeError):
    """The server exited or was not ready in time; the message ends with its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    model: str  # the model id it serves
    process: subprocess.Popen
    log_path: Path
    label: str = field(default="codefill")

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (codefill drains), then SIGKILL after `timeout` seconds."""
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def spawn(cmd: list[str], log_path: Path, *, env: dict | None = None, cwd: str | None = None) -> subprocess.Popen:
    """`cmd` with stdout and stderr in `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:  # the child holds its own copy
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)


def wait_ready(proc: subprocess.Popen, probe: str, log_path: Path, timeout: float, *,
               what: str = "server") -> httpx.Response:
    """Poll `probe` until it answers 200 (returned); ServerFailed, the process killed, if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerFailed(f"{what} exited with {proc.returncode}:\n{_tail(log_path)}")
        try:
            r = httpx.get(probe, timeout=2)
            if r.status_code == 200:
                return r
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    raise ServerFailed(f"{what} was not ready in {timeout:g}s:\n{_tail(log_path)}")


def _tail(path: Path, chars: int = 20000) -> str:
    return path.read_text(errors="replace")[-chars:]


def default_log(name: str, port: int) -> Path:
    return Path(tempfile.gettempdir()) / f"codefill-{name}-{port}.log"


def start_codefill(*serve_args: str, port: int | None = None, label: str = "codefill", log_path: Path | None = None,
                   python: str | Path | None = None, env: dict | None = None, cwd: str | None = None,
                   ready_timeout: float = 120, headers: dict | None = None) -> Server:
    """`codefill serve --port PORT *serve_args` run by `python` (default: this interpreter), ready.
    `env` replaces the environment (None: this one); `headers`: sent to read the model id
    from /v1/models when /ready does not say it."""
    port = port or free_port()
    log_path = log_path or default_log(label, port)
    proc = spawn([str(python or sys.executable), "-m", "codefill.cli", "serve", "--port", str(port), *serve_args],
                 log_path, env=env, cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    ready = wait_ready(proc, url + "/ready", log_path, ready_timeout, what="codefill serve")
    model = ready.json().get("model")
    if model is None:
        model = httpx.get(url + "/v1/models", headers=headers, timeout=10).json()["data"][0]["id"]
    return Server(url, model, proc, log_path, label)


def start_command(cmd: list[str], *, port: int, label: str, model: str, probe: str = "/v1/models",
                  ready_timeout: float = 120, env: dict | None = None, cwd: str | None = None) -> Server:
    """Another server (llama-cpp-python's, llama-server, vLLM's) already told to listen on `port`."""
    log_path = default_log(label.replace(" ", "_"), port)
    proc = spawn(cmd, log_path, env=env, cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    wait_ready(proc, url + probe, log_path, ready_timeout, what=label)
    return Server(url, model, proc, log_path, label)
