"""Servers the benchmarks start themselves, on free loopback ports (codefill/launch.py)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from codefill.launch import Server, free_port, start_codefill as launch_codefill, start_command


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


def add_other_codefill_arguments(parser, *, when: str = "") -> None:
    """--variant and --source, the other codefills a benchmark runs side by side (other_codefills
    reads them); `when`: the option they go with, if any, for the help text."""
    prefix = f"with {when}, also" if when else "also"
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=SERVE_ARGS",
                        help=f"{prefix} run codefill started with these extra `serve` arguments (repeatable), "
                             "e.g. --variant 'no-anchor=--no-anchor': side by side in one run")
    parser.add_argument("--source", action="append", default=[], metavar="NAME=DIR [SERVE_ARGS]",
                        help=f"{prefix} run codefill from another source tree, e.g. a git worktree of an older "
                             "commit (before/after in one run), with these extra `serve` arguments")


def other_codefills(variants: list[str], sources: list[str]) -> list[tuple[str, str | None, list[str]]]:
    """The codefill servers `--variant NAME=SERVE_ARGS` and `--source NAME=DIR [SERVE_ARGS]` ask for,
    as (label, source tree or None, extra `serve` arguments)."""
    out = []
    for spec in variants:
        name, _, extra = spec.partition("=")
        out.append((f"codefill[{name}]", None, shlex.split(extra)))
    for spec in sources:
        name, _, rest = spec.partition("=")
        source, *extra = shlex.split(rest)
        out.append((f"codefill[{name}]", source, extra))
    return out


def start_codefill(model: str, *, n_ctx: int = 4096, extra: list[str] | None = None,
                   label: str = "codefill", source: str | None = None, threads: int | None = None,
                   api_key: str | None = None) -> Server:
    """codefill on `model`; from another source tree when `source` is given; `api_key`: one of
    the keys `extra` gives it, to read its model id."""
    return launch_codefill("--model", model, "--n-ctx", str(n_ctx), "--log-level", "warning",
                           *(["--threads", str(threads)] if threads else []), *(extra or []), label=label,
                           headers={"Authorization": f"Bearer {api_key}"} if api_key else None,
                           **_source_spawn(source))


def start_llama_cpp_server(model_path: str, *, n_ctx: int = 4096, threads: int | None = None) -> Server:
    """llama-cpp-python's own OpenAI server, the obvious alternative, same model."""
    port = free_port()
    return start_command([sys.executable, "-m", "llama_cpp.server", "--model", model_path, "--port", str(port),
                          "--n_ctx", str(n_ctx), "--model_alias", "llama-cpp-server",
                          *(["--n_threads", str(threads), "--n_threads_batch", str(threads)] if threads else [])],
                         port=port, label="llama-cpp-python", model="llama-cpp-server")
