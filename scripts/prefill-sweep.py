"""Cold prefill of a ~1,500-token prompt, then decoding after it, under llama.cpp settings, side by side.

Usage: .venv/bin/python scripts/prefill-sweep.py [--rounds N] [--tokens N] [--model FILE ...]
       [--set NAME=KEY:VALUE,KEY:VALUE ...]

Each setting is a llama_cpp.Llama loaded once; every round evaluates the same
prompt from an empty cache on each in turn (A, B, C, A, B, C, ...), so a
noisy machine slows them alike, then decodes --decode tokens one at a time
after it (what a keystroke's answer costs). Prints the median prefill seconds
and tokens/s, decode tokens/s, and the prefill ratio to the first setting. Settings: Llama() keyword arguments
(n_batch, n_ubatch, flash_attn, type_k, type_v, ...), per model file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from codefill.bench.workload import stdlib_file
from codefill.models.store import resolve_model


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=[], help="GGUF file or catalogue name (repeatable)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=KEY:VALUE,...",
                    help="a setting to compare (repeatable); default: n_batch 256")
    ap.add_argument("--tokens", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--decode", type=int, default=32, help="tokens decoded one at a time after the prompt")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    from llama_cpp import Llama

    models = args.model or ["default"]
    settings = []
    for spec in args.set or ["n_batch=n_batch:256"]:
        name, _, kv = spec.partition("=")
        settings.append((name, {k: _value(v) for k, v in (p.split(":", 1) for p in kv.split(",") if p)}))
    text = stdlib_file("argparse.py").read_text()
    runs = []
    for model in models:
        path = model if model.endswith(".gguf") else str(resolve_model(model))
        for name, kw in settings:
            llm = Llama(model_path=path, n_ctx=4096, n_threads=args.threads, n_threads_batch=args.threads,
                        verbose=False, **kw)
            tokens = llm.tokenize(text.encode())[: args.tokens]
            label = f"{path.rsplit('/', 1)[-1]} {name}"
            runs.append((label, llm, tokens, kw.get("n_batch", 512), [], []))
            print(f"loaded {label}", file=sys.stderr, flush=True)
    for r in range(args.rounds):
        for label, llm, tokens, n_batch, times, decode in runs:
            llm.reset()
            llm._ctx.kv_cache_clear()
            t = time.perf_counter()
            for start in range(0, len(tokens), n_batch):
                llm.eval(tokens[start : start + n_batch])
            times.append(time.perf_counter() - t)
            t = time.perf_counter()
            for token in tokens[: args.decode]:  # any tokens: the cost of a step does not depend on which
                llm.eval([token])
            decode.append(args.decode / (time.perf_counter() - t))
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{run[0]} {run[4][-1]:.2f}s" for run in runs),
              file=sys.stderr, flush=True)
    first = statistics.median(runs[0][4])
    print(f"{'setting':<44} {'prefill s':>9} {'tok/s':>6} {'decode tok/s':>12} {'prefill ratio':>13}")
    for label, _, tokens, _, times, decode in runs:
        med = statistics.median(times)
        print(f"{label:<44} {med:9.2f} {len(tokens) / med:6.0f} {statistics.median(decode):12.0f} {med / first:13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
