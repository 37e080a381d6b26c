"""nginx with the shipped deploy/nginx/codefill.conf, on loopback: for the
load-balancer test and scripts/load-balanced.py (run from a checkout: the
config is read from its deploy/ folder). Only the port nginx listens
on and the replicas' addresses are changed; everything else is the file as
compose mounts it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
CONFIG = ROOT / "deploy" / "nginx" / "codefill.conf"


def shipped_config(listen: int, replicas: list[str]) -> str:
    """The shipped config listening on 127.0.0.1:`listen`, in front of `replicas` (host:port each).
    Its `server` lines are reused in order; extra replicas get copies of the last one."""
    text = CONFIG.read_text()
    lines = re.findall(r"^(\s*server codefill-\d+:8000 .*\n)", text, re.M)
    assert lines, "no `server codefill-N:8000` lines in the shipped config"
    servers = [re.sub(r"codefill-\d+:8000", address, lines[min(i, len(lines) - 1)])
               for i, address in enumerate(replicas)]
    text = text.replace("".join(lines), "".join(servers))
    assert text.count("listen 8000;") == 1
    return text.replace("listen 8000;", f"listen 127.0.0.1:{listen};")


def start_nginx(folder: Path, config: str, stdout=subprocess.DEVNULL) -> subprocess.Popen:
    """nginx in the foreground with `config`, its pid file and temporary files under `folder`."""
    if NGINX is None:
        raise RuntimeError("nginx is not installed (`make client-deps` installs it)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nginx.conf").write_text(config)
    return subprocess.Popen([NGINX, "-p", str(folder), "-e", "stderr", "-c", str(folder / "nginx.conf"),
                             "-g", f"daemon off; pid {folder / 'nginx.pid'};"],
                            stdout=stdout, stderr=subprocess.STDOUT)


def stop_nginx(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
