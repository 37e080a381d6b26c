"""`codefill bench decode`: the llama.cpp engine's decode throughput with 1, 2, 4, 8 sequences.

In-process, no HTTP: N greedy requests with short, different prompts start
together; once every one has its first token (prefill is over), the clock
runs until they have all generated `--tokens` tokens. Tokens/s is what the
N sequences generated together in that time, and the ratio is against one
sequence. Speculation is off and the prompts never end early (`max_tokens`
is the only stop), so every step holds exactly N tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from codefill.server.engines.base import GenerationRequest, GenerationResult

PROMPTS = [
    "def fibonacci(n):\n    ",
    "import os\nimport sys\n\nfor path in sys.argv[1:]:\n    ",
    "class Stack:\n    def __init__(self):\n        ",
    "numbers = [1, 2, 3, 4, 5]\ntotal = ",
    "# Read a CSV file and print each row\nimport csv\n",
    "SELECT name, age FROM users WHERE ",
    "function add(a, b) {\n  ",
    "The quick brown fox ",
]


async def _one_round(engine, n: int, tokens: int) -> float:
    """Tokens/s of `n` sequences decoding together."""
    first = asyncio.Event()
    started: list[float] = []
    firsts = 0
    after_first = 0

    async def one(i: int) -> None:
        nonlocal firsts, after_first
        prompt = PROMPTS[i % len(PROMPTS)] + " " * (i // len(PROMPTS))
        req = GenerationRequest(engine.tokenize(prompt, add_bos=True), tokens)
        count = 0
        async for _ in engine.generate(req, GenerationResult()):
            count += 1
            if count == 1:
                firsts += 1
                if firsts == n:
                    started.append(time.monotonic())
                    first.set()
                await first.wait()
            else:
                after_first += 1

    t = [asyncio.create_task(one(i)) for i in range(n)]
    await asyncio.gather(*t)
    return after_first / (time.monotonic() - started[0])


def run(model: str, sequences: list[int], tokens: int, rounds: int, threads: int | None) -> list[dict]:
    from codefill.models.store import resolve_model
    from codefill.server.engines.llama_cpp import LlamaCppEngine

    most = max(sequences)
    engine = LlamaCppEngine(resolve_model(model), model_id="bench", n_ctx=1024, n_threads=threads,
                            sequences=most, step_tokens=max(128, most), n_batch=max(256, most))

    async def go() -> list[dict]:
        await engine.start()
        try:
            await _one_round(engine, 1, 8)  # warm-up
            rows = []
            for n in sequences:
                rates = [await _one_round(engine, n, tokens) for _ in range(rounds)]
                rows.append({"sequences": n, "tokens_per_s": round(statistics.median(rates), 1)})
            base = rows[0]["tokens_per_s"] if rows and rows[0]["sequences"] == 1 else None
            for row in rows:
                row["vs_one"] = round(row["tokens_per_s"] / base, 2) if base else None
            return rows
        finally:
            await engine.close()

    return asyncio.run(go())


def format_rows(rows: list[dict]) -> str:
    lines = ["sequences  tokens/s  vs one"]
    lines += [f"{r['sequences']:>9}  {r['tokens_per_s']:>8}  {r['vs_one'] if r['vs_one'] is not None else '-':>6}"
              for r in rows]
    return "\n".join(lines)


def int_list(text: str) -> list[int]:
    """argparse type: "1,4,8" -> [1, 4, 8]."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers separated by commas") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers of at least 1")
    return values


def add_engine_benchmarks(bsub) -> None:
    d = bsub.add_parser("decode", help="the llama.cpp engine's decode tokens/s with 1, 2, 4, 8 sequences",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                        description="In-process, no HTTP: N greedy requests decode together; prints tokens/s and "
                                    "the ratio to one sequence (continuous batching).")
    d.add_argument("--model", default="default", help="model (path or catalogue name)")
    d.add_argument("--sequences", type=int_list, default=[1, 2, 4, 8], metavar="N[,N...]")
    d.add_argument("--tokens", type=int, default=64, help="tokens each sequence generates")
    d.add_argument("--rounds", type=int, default=3, help="runs per count (the median is printed)")
    d.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    d.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    d.set_defaults(func=_cmd_decode)
    b = bsub.add_parser("build-llama-server", help="build llama.cpp's llama-server once (the replay's reference)",
                        description="Builds llama-server from the llama.cpp source that the installed "
                                    "llama-cpp-python vendors (its sdist from PyPI) and caches it; prints its path.")
    b.add_argument("--jobs", type=int, default=2, help="parallel compile jobs")
    b.set_defaults(func=_cmd_build)


def _cmd_decode(args: argparse.Namespace) -> int:
    rows = run(args.model, args.sequences, args.tokens, args.rounds, args.threads)
    print(json.dumps(rows, indent=2) if args.json else format_rows(rows))
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from . import llama_server

    print(llama_server.build(args.jobs))
    return 0
