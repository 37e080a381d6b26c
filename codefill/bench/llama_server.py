"""llama.cpp's own `llama-server`, the reference for serving many users.

Built once from the llama.cpp source that the pinned llama-cpp-python
vendors (its sdist from PyPI), so both sides run the same kernels, and cached
under `$XDG_CACHE_HOME/codefill/llama-server-<version>/` (default
`~/.cache`). `codefill bench build-llama-server` builds it ahead of time;
`codefill bench replay --llama-server N` builds it on first use. It is
compiled with the engine's own flags for this CPU (codefill/native_flags.py),
and the cache folder's name carries them.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

from codefill.launch import Server, free_port, start_command
from codefill.native_flags import native_flags


@functools.cache
def _flags() -> str:
    return native_flags()


def cache_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(_flags().encode()).hexdigest()[:8]
    return cache / "codefill" / f"llama-server-{version('llama-cpp-python')}-{key}"


def binary() -> Path:
    return cache_dir() / "llama-server"


def build(jobs: int = 2) -> Path:
    """The cached llama-server, built first if missing (minutes of CPU)."""
    target = binary()
    if target.is_file():
        return target
    pinned = version("llama-cpp-python")
    with tempfile.TemporaryDirectory(prefix="codefill-llama-server-") as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        f"llama-cpp-python=={pinned}", "-d", str(work)], check=True)
        sdist = next(work.glob("llama_cpp_python-*.tar.gz"))
        with tarfile.open(sdist) as tar:
            tar.extractall(work, filter="data")
        source = next(work.glob("llama_cpp_python-*/vendor/llama.cpp"))
        build_dir = work / "build"
        cmake = shutil.which("cmake") or "cmake"
        subprocess.run([cmake, "-S", str(source), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                        "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
                        "-DLLAMA_BUILD_SERVER=ON", "-DBUILD_SHARED_LIBS=OFF",
                        f"-DCMAKE_C_FLAGS={_flags()}", f"-DCMAKE_CXX_FLAGS={_flags()}"], check=True)
        subprocess.run([cmake, "--build", str(build_dir), "--target", "llama-server", "-j", str(jobs)], check=True)
        built = next(build_dir.rglob("llama-server"))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, target.with_suffix(".tmp"))
        target.with_suffix(".tmp").rename(target)
    return target


def start(model_path: str, *, slots: int, n_ctx: int = 4096, threads: int | None = None) -> Server:
    """`llama-server -np SLOTS --cache-reuse 256`: one context of SLOTS x n_ctx
    cells, continuous batching, each slot reusing its prompt's cached chunks."""
    port = free_port()
    cmd = [str(build()), "--model", model_path, "--port", str(port), "--host", "127.0.0.1",
           "-np", str(slots), "--ctx-size", str(n_ctx * slots), "--cache-reuse", "256",
           "--alias", "llama-server", "--no-webui"]
    if threads:
        cmd += ["--threads", str(threads), "--threads-batch", str(threads)]
    return start_command(cmd, port=port, label=f"llama-server -np {slots}", model="llama-server", probe="/health")
