"""The engine's costs on this machine, measured for the replay's ceiling (ceiling.py):
prompt tokens per second for a chunk, the time of one decode step by width, and
the time of a step of one sequence by its token count (a keystroke's few new
tokens cost more each than a chunk's).

Measured with llama.cpp itself, in a subprocess (as `codefill models prepare`
measures), with the context the llama.cpp engine makes: one KV stream per
sequence, the model's default offload (every layer on a GPU build), the
engine's default batch size. A prompt is evaluated into sequence 0 in chunks
of `--chunk` tokens (the engine's default step) to `DEPTH`, copied to the
other sequences, and then steps of width 1..N decode one token per sequence at
that depth; before that, steps of one sequence with 1..`CHUNK` tokens (the
chunk's gives prompt tokens/s). Each cost is the best of a few tries (the
machine's noise only ever slows a run down). The same subprocess counts tokens of texts with the
model's tokenizer. Measured once per model file and thread count at the start
of a run and once more after it (`again`): a shared machine's speed drifts over
minutes (prompt tokens/s measured 420-550 within a quarter of an hour here),
so the ceiling takes the faster of the two measurements of each cost, the
higher ceiling of the two, not whichever the moment of the start happened to give.

    python -m codefill.bench.step_costs --model FILE --widths N [--threads T] < texts.json
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from . import ceiling
from .ceiling import Costs

CHUNK = 128  # `serve --step-tokens`' default
# How deep in its sequence a step is measured: a keystroke's sequence holds its cold window (384 tokens, what
# the open-loop replay mostly runs on: idle time to grow full windows never comes) and the lines typed since.
# Deeper sequences cost more per step (attention over every cell): 256 tokens deep measured ~35 % cheaper.
DEPTH = 4 * CHUNK
N_BATCH = 256  # `serve --n-batch`' default
# The token counts a step of one sequence is timed at (the ceiling interpolates between them).
TOKEN_COUNTS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, CHUNK)
TRIES = 3
_cache: dict[tuple, Costs] = {}


def faster(a: Costs, b: Costs) -> Costs:
    """Each cost at the faster of two measurements (over the widths both measured)."""
    b_tokens = dict(b.token_seconds)
    return Costs(max(a.prefill_tps, b.prefill_tps),
                 tuple(min(x, y) for x, y in zip(a.step_seconds, b.step_seconds)),
                 tuple((n, min(s, b_tokens[n])) for n, s in a.token_seconds if n in b_tokens))


def measure(model: Path, *, widths: int, threads: int | None = None, texts: list[str] | None = None,
            timeout: float = 300, again: bool = False) -> tuple[Costs, list[int]]:
    """The costs (cached per model file and threads in this process) and the token counts of `texts`.
    `again`: measure once more, and keep each cost's faster measurement (this one or the cached)."""
    threads = threads or os.cpu_count() or 1
    stat = model.stat()
    key = (str(model.resolve()), stat.st_size, stat.st_mtime_ns, threads)
    cached = _cache.get(key)
    if cached is not None and cached.widths < widths:
        cached = None
    earlier, cached = (cached, None) if again else (None, cached)
    if cached is not None and not texts:
        return cached, []
    cmd = [sys.executable, "-m", "codefill.bench.step_costs", "--model", str(model), "--threads", str(threads),
           "--widths", str(widths), *(["--tokens-only"] if cached is not None else [])]
    proc = subprocess.run(cmd, input=json.dumps(texts or []), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"measuring the engine's costs failed:\n{proc.stderr.strip()[-2000:]}")
    out = json.loads(proc.stdout)
    if cached is None:
        cached = Costs(out["prefill_tps"], tuple(out["step_seconds"]),
                       tuple((int(n), float(t)) for n, t in out.get("token_seconds", ())))
        cached = _cache[key] = faster(earlier, cached) if earlier is not None else cached
    return cached, out["tokens"]


def measured(workload, typists: list[int], *, model: Path, threads: int | None = None, say=None,
             again: bool = False) -> tuple[Costs, dict[str, int]]:
    """The engine's costs for the ceiling of `workload` (said), and the token count of each of its texts:
    measured at the start of a run, before servers compete for the machine; with `again`, after the
    runs, each cost the faster of both."""
    texts = ceiling.texts(workload)
    costs, tokens = measure(model, widths=max(typists), threads=threads, texts=texts, again=again)
    say = say or (lambda msg: print(msg, file=sys.stderr, flush=True))
    say(f"ceiling{' (the faster of before and after the runs)' if again else ''}: {model.name}: "
        f"prompt {costs.prefill_tps:.0f} tokens/s; a decode step of width 1..{costs.widths}: "
        + " ".join(f"{s * 1000:.1f}" for s in costs.step_seconds) + " ms; a step of one sequence with "
        + " ".join(f"{n}" for n, _ in costs.token_seconds) + " tokens: "
        + " ".join(f"{t * 1000:.1f}" for _, t in costs.token_seconds) + " ms")
    return costs, dict(zip(texts, tokens))


def ceilings(workload, typists: list[int], *, model: Path, interval: float, max_tokens: int,
             threads: int | None = None, say=None, again: bool = False) -> dict[int, float | None]:
    """The ceiling of the open-loop replay of `workload` for each typist count: the costs
    (`measured`), then a simulation per count."""
    costs, lookup = measured(workload, typists, model=model, threads=threads, say=say, again=again)
    first_prompt = first_prompt_counter(model, max_tokens=max_tokens)
    return {n: ceiling.share(ceiling.schedule(workload, typists=n, interval=interval, max_tokens=max_tokens,
                                              count_tokens=lambda ts: [lookup[t] for t in ts],
                                              first_prompt=first_prompt), costs)
            for n in typists}


def first_prompt_counter(model: Path, *, max_tokens: int, n_ctx: int | None = None):
    """(prefix, suffix, cold window target) -> the tokens the engine evaluates for a place's first keystroke,
    by the prompt stage's own rules on `model`'s vocabulary (server/prompt `first_prompt_tokens`)."""
    from codefill.server.engines.llama_cpp.engine import LlamaCppOptions
    from codefill.server.engines.vocab import GgufVocabulary
    from codefill.server.prompt import first_prompt_tokens
    from codefill.server.prompt.families import detect_family

    vocab = GgufVocabulary(model)
    family = detect_family(vocab, vocab.architecture)
    options = LlamaCppOptions()  # what `bench replay --compare` serves with
    saving, n_ctx = options.cold_saving, n_ctx or options.n_ctx

    @functools.cache
    def count(prefix: str, suffix: str, target: int) -> int:
        return first_prompt_tokens(prefix, suffix, vocab=vocab, family=family, target=target,
                                   budget=n_ctx - max_tokens, cold_saving=saving)

    return count


def add_ceilings(summaries: list[dict], shares: dict[int, float | None]) -> None:
    """Each summary's ceiling (by its `typists`) and its answered share's fraction of it."""
    for s in summaries:
        s["ceiling"] = shares.get(s["typists"])
        s["answered/ceiling"] = ceiling.ratio(s["answered"], s["ceiling"])


def _tokenize(model, texts: list[str]) -> list[int]:
    return [len(model.tokenize(t.encode(), add_bos=False, special=False)) if t else 0 for t in texts]


def _sample(model, n: int) -> list[int]:
    """A fixed piece of Python from the standard library, as tokens."""
    import argparse as source
    import inspect

    return model.tokenize(inspect.getsource(source).encode(), add_bos=False, special=False)[:n]


def _best(fn, tries: int = TRIES) -> float:
    times = []
    for _ in range(tries):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _measure_steps(model, llama_cpp, *, widths: int, threads: int) -> dict:
    from llama_cpp._internals import LlamaContext

    depth = DEPTH
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = widths * (depth + 2 * CHUNK * (TRIES + 1))
    params.n_batch = params.n_ubatch = N_BATCH
    params.n_seq_max = widths
    params.kv_unified = False
    params.n_threads = params.n_threads_batch = threads
    params.no_perf = True
    params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED  # `serve`'s default
    context = LlamaContext(model=model, params=params, verbose=False)
    batch = llama_cpp.llama_batch_init(N_BATCH, 0, 1)
    mem = llama_cpp.llama_get_memory(context.ctx)
    tokens = _sample(model, depth + CHUNK)
    pos = [0] * widths

    def decode(entries: list[tuple[int, int]]) -> None:  # (sequence, token); logits for the last of each
        batch.n_tokens = len(entries)
        for i, (seq, token) in enumerate(entries):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, pos[seq], 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = i == len(entries) - 1 or entries[i + 1][0] != seq
            pos[seq] += 1
        rc = llama_cpp.llama_decode(context.ctx, batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode failed ({rc})")
        llama_cpp.llama_synchronize(context.ctx)

    try:
        chunks = [tokens[i:i + CHUNK] for i in range(0, depth, CHUNK)]
        for c in chunks[:-1]:
            decode([(0, t) for t in c])
        extra = tokens[depth:depth + CHUNK]

        def one_sequence(n: int) -> None:  # a step of n tokens at the prompt's depth, then taken back
            decode([(0, t) for t in extra[:n]])
            llama_cpp.llama_memory_seq_rm(mem, 0, pos[0] - n, -1)
            pos[0] -= n

        decode([(0, t) for t in chunks[-1]])
        token_seconds = []
        for n in TOKEN_COUNTS:
            one_sequence(n)  # untimed: a batch of a new shape allocates its graph once
            token_seconds.append([n, round(_best(lambda n=n: one_sequence(n)), 6)])
        prefill_tps = CHUNK / token_seconds[-1][1]  # a whole chunk (the last count timed)
        for seq in range(1, widths):
            llama_cpp.llama_memory_seq_cp(mem, 0, seq, -1, -1)
            pos[seq] = pos[0]
        steps = []
        for width in range(1, widths + 1):
            step = lambda w=width: decode([(s, tokens[pos[s] % len(tokens)]) for s in range(w)])  # noqa: E731
            step()  # untimed: a batch of a new shape allocates its graph once
            steps.append(_best(step))
        return {"prefill_tps": round(prefill_tps, 1), "step_seconds": [round(s, 6) for s in steps],
                "token_seconds": token_seconds}
    finally:
        llama_cpp.llama_batch_free(batch)
        context.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Measure the llama.cpp engine's step costs; count tokens of texts "
                                            "(a JSON list on stdin). Prints JSON.")
    p.add_argument("--model", required=True)
    p.add_argument("--widths", type=int, default=8, help="decode steps of width 1..N")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--tokens-only", action="store_true", help="only count tokens")
    args = p.parse_args(argv)
    texts = json.loads(sys.stdin.read() or "[]")
    import llama_cpp
    from llama_cpp._internals import LlamaModel

    llama_cpp.llama_backend_init()
    model = LlamaModel(path_model=args.model, params=llama_cpp.llama_model_default_params(), verbose=False)
    try:
        out = {} if args.tokens_only else _measure_steps(model, llama_cpp, widths=max(1, args.widths),
                                                           threads=args.threads)
        out["tokens"] = _tokenize(model, texts)
    finally:
        model.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
