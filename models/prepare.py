"""`codefill models prepare`: re-quantize a GGUF to the format this CPU runs fastest.

llama.cpp's speed on a CPU depends on the weight format more than one would
guess: on AVX-512 machines Q4_0 and Q8_0 weights are repacked at load into
kernels that prefill about twice as fast as Q4_1 (the format the default
model ships in), and on CPUs with AVX512-BF16 (AMD Zen 4, Intel Sapphire
Rapids) unquantized BF16 weights prefill faster still, with no loss at all
(widening 4-bit weights to 16 bits keeps them). Which format wins, and by how
much, depends on the CPU, so this measures instead of assuming:

1. quantize the model to each candidate format (`llama_model_quantize`, a
   second or less for a small model);
2. measure each, and the original: prompt tokens/s (a cold prompt), generated
   tokens/s, and perplexity on a fixed piece of Python (the quality check);
   speed in rounds that time every file once each, best round kept, so that
   a busy spell of the machine cannot favour the files timed outside it;
3. keep the candidate with the lowest estimated mean cost of a keystroke
   (one cold window of 384 prompt tokens per 25 keystrokes, 16 tokens
   generated at each; see `Measurement.keystroke_seconds`) among those whose perplexity is
   within `max_ppl_increase` of the original's; if none beats the original by
   5%, keep the original.

The choice is written next to the model (`<file>.prepared.json`) and
`resolve_model` serves the chosen file for that name from then on. Delete the
JSON file (or `--undo`) to go back.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

# llama.cpp file types (llama_ftype) we can quantize to.
FTYPES = {"Q4_0": 2, "Q8_0": 7, "Q4_1": 3, "Q5_0": 8, "Q5_1": 9, "Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18,
          "F16": 1, "BF16": 32}
CANDIDATES = ("Q4_0", "Q8_0", "BF16")
# The estimate is the mean cost of a keystroke over one place of typing (the
# replay benchmark's unit): the first keystroke evaluates a cold window of
# COLD_PROMPT_TOKENS (`serve --cold-window`), the next WARM_KEYSTROKES find
# their prompt cached and mostly decode a line. Warm keystrokes are most of
# what users feel, so decode speed weighs as much as prompt speed.
COLD_PROMPT_TOKENS = 384
WARM_KEYSTROKES = 24
LINE_TOKENS = 16


@dataclass
class Measurement:
    file: str
    format: str
    size_mb: float
    prefill_tps: float
    decode_tps: float
    perplexity: float

    @property
    def keystroke_seconds(self) -> float:
        """Estimated mean cost of a keystroke: one cold window and a line, then warm keystrokes of a line each."""
        cold = COLD_PROMPT_TOKENS / self.prefill_tps
        return (cold + (1 + WARM_KEYSTROKES) * LINE_TOKENS / self.decode_tps) / (1 + WARM_KEYSTROKES)


def prepared_record(source: Path) -> Path:
    return source.with_name(source.name + ".prepared.json")


def prepared_file(source: Path) -> Path | None:
    """The file `prepare` chose for `source`, if it ran and the file is still there."""
    record = prepared_record(source)
    if not record.is_file():
        return None
    try:
        chosen = source.with_name(json.loads(record.read_text())["chosen"])
    except (ValueError, KeyError, TypeError):
        return None
    return chosen if chosen.is_file() else None


def quantize(source: Path, target: Path, fmt: str) -> Path:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[fmt]
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    partial = target.with_name(target.name + ".partial")
    rc = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), ctypes.byref(params))
    if rc != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"llama_model_quantize to {fmt} failed with {rc}")
    partial.replace(target)
    return target


def _sample_tokens(llm, n: int) -> list[int]:
    """A fixed piece of Python from the standard library (the same on every machine
    with this Python), as tokens."""
    import argparse
    import inspect

    text = inspect.getsource(argparse)
    return llm.tokenize(text.encode(), add_bos=False)[:n]


def measure(path: Path, fmt: str, *, n_threads: int | None = None, prefill_tokens: int = 512,
            decode_tokens: int = 48, ppl_tokens: int = 1024, repeats: int = 1,
            perplexity: bool = True) -> Measurement:
    """Speed (best of `repeats`: the machine's noise only ever slows a run
    down) and, with `perplexity`, the perplexity of one GGUF file (else NaN)."""
    import numpy as np
    from llama_cpp import Llama

    threads = n_threads or os.cpu_count() or 1
    llm = Llama(model_path=str(path), n_ctx=2048, n_batch=512, n_threads=threads, n_threads_batch=threads,
                logits_all=True, verbose=False)
    try:
        tokens = _sample_tokens(llm, max(prefill_tokens, ppl_tokens) + decode_tokens)
        ppl = math.nan
        if perplexity:  # next-token log-likelihood over the sample, in one pass of logits for every position
            llm.reset()
            llm.eval(tokens[:ppl_tokens])
            logits = np.asarray(llm.scores[: ppl_tokens - 1], dtype=np.float64)
            top = logits.max(axis=1, keepdims=True)
            log_z = (top[:, 0] + np.log(np.exp(logits - top).sum(axis=1)))
            targets = np.asarray(tokens[1:ppl_tokens])
            nll = log_z - logits[np.arange(len(targets)), targets]
            ppl = float(math.exp(nll.mean()))
        prefill, decode = [], []
        for _ in range(repeats):
            llm.reset()
            t = time.perf_counter()
            llm.eval(tokens[:prefill_tokens])
            prefill.append(prefill_tokens / (time.perf_counter() - t))
            t = time.perf_counter()
            for tok in tokens[prefill_tokens : prefill_tokens + decode_tokens]:
                llm.eval([tok])
            decode.append(decode_tokens / (time.perf_counter() - t))
    finally:
        llm.close()
    return Measurement(path.name, fmt, round(path.stat().st_size / 1e6, 1), round(max(prefill), 1),
                       round(max(decode), 1), round(ppl, 4))


def _format_of(path: Path) -> str:
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
    try:
        ftype = int(llm.metadata.get("general.file_type", -1))
    finally:
        llm.close()
    return next((name for name, value in FTYPES.items() if value == ftype), f"ftype {ftype}")


def prepare(source: Path, *, formats: tuple[str, ...] = CANDIDATES, max_ppl_increase: float = 0.02,
            n_threads: int | None = None, rounds: int = 3, log=None) -> dict:
    """Quantize, measure, choose; write and return the record.

    Speed is measured in `rounds` rounds, each timing every file once (in an
    order that rotates), and each file keeps its best round: a busy spell of
    the machine then slows one round of every file, not every round of the
    files measured during it, which would flip the choice."""
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    source_format = _format_of(source)
    say(f"codefill: preparing {source.name} ({source_format}) for this CPU; candidates: {', '.join(formats)}")
    files = [(source, source_format)]
    stem = source.stem.removesuffix(f".{source_format}")
    for fmt in formats:
        if fmt == source_format:
            continue
        say(f"  quantizing to {fmt} ...")
        target = source.with_name(f"{stem}.{fmt}.gguf")
        quantize(source, target, fmt)
        files.append((target, fmt))
    kept: list[Measurement | None] = [None] * len(files)
    for r in range(max(1, rounds)):
        say(f"  measuring, round {r + 1} of {max(1, rounds)} ...")
        for k in range(len(files)):
            i = (k + r) % len(files)
            path, fmt = files[i]
            m = measure(path, fmt, n_threads=n_threads, perplexity=kept[i] is None)
            if kept[i] is not None:  # the perplexity of the first round; each speed at its best
                m = replace(kept[i], prefill_tps=max(kept[i].prefill_tps, m.prefill_tps),
                            decode_tps=max(kept[i].decode_tps, m.decode_tps))
            kept[i] = m
    measured = [m for m in kept if m is not None]
    original = measured[0]
    limit = original.perplexity * (1 + max_ppl_increase)
    say(f"  {'format':8} {'MB':>6} {'prompt tok/s':>13} {'gen tok/s':>10} {'perplexity':>11} {'keystroke':>10}")
    for m in measured:
        flag = "" if m.perplexity <= limit else "  (quality drops: not eligible)"
        say(f"  {m.format:8} {m.size_mb:6.0f} {m.prefill_tps:13.0f} {m.decode_tps:10.0f} {m.perplexity:11.3f} "
            f"{m.keystroke_seconds:9.3f}s{flag}")
    eligible = [m for m in measured[1:] if m.perplexity <= limit]
    best = min(eligible, key=lambda m: m.keystroke_seconds, default=None)
    chosen = best if best is not None and best.keystroke_seconds < 0.95 * original.keystroke_seconds else original
    for m in measured[1:]:
        if m is not chosen:
            (source.with_name(m.file)).unlink(missing_ok=True)
    record = {
        "source": source.name,
        "chosen": chosen.file,
        "format": chosen.format,
        "max_perplexity_increase": max_ppl_increase,
        "measurements": [asdict(m) | {"keystroke_seconds": round(m.keystroke_seconds, 3)} for m in measured],
        "cpu_threads": n_threads or os.cpu_count(),
    }
    prepared_record(source).write_text(json.dumps(record, indent=2) + "\n")
    say(f"codefill: serving {chosen.file} for {source.name} from now on "
        f"({original.keystroke_seconds / chosen.keystroke_seconds:.2f}x faster keystrokes)")
    return record


def undo(source: Path) -> bool:
    """Forget the choice (and its file): the original is served again."""
    record = prepared_record(source)
    if not record.is_file():
        return False
    chosen = prepared_file(source)
    if chosen is not None and chosen != source:
        chosen.unlink()
    record.unlink()
    return True
