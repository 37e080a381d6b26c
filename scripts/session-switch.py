"""What putting one editor session's KV state aside and bringing another's back costs.

Usage: .venv/bin/python scripts/session-switch.py [ROUNDS]

The llama.cpp engine in-process on the default model: two sessions with
~850-token prompts (two places in argparse.py) ask for one token each after
typing one more character. First alternating (every request switches
sessions), then one session alone; prints the median time per request of each.
"""

import asyncio
import statistics
import sys
import time

from codefill.bench.workload import stdlib_file
from codefill.models.store import resolve_model
from codefill.server.engines.base import GenerationRequest, GenerationResult
from codefill.server.engines.llama_cpp import LlamaCppEngine

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20


async def main() -> None:
    engine = LlamaCppEngine(resolve_model("default", fetch=False), model_id="bench", n_ctx=4096)
    await engine.start()
    lines = stdlib_file("argparse.py").read_text().split("\n")
    texts = {"a": "\n".join(lines[100:210]) + "\n", "b": "\n".join(lines[600:710]) + "\n"}

    async def ask(session: str, text: str) -> tuple[float, int]:
        result = GenerationResult()
        started = time.perf_counter()
        async for _ in engine.generate(GenerationRequest(engine.tokenize(text), 1, session=session), result):
            pass
        return time.perf_counter() - started, result.prompt_tokens

    try:
        for s in texts:
            await ask(s, texts[s])
        switching, alone = [], []
        for i in range(ROUNDS):
            for s in texts:
                seconds, tokens = await ask(s, texts[s] + "x" * (i + 1))
                switching.append(seconds)
        for i in range(ROUNDS):
            seconds, _ = await ask("a", texts["a"] + "y" * (i + 1))
            alone.append(seconds)
    finally:
        await engine.close()
    print(f"prompts of ~{tokens} tokens: {1000 * statistics.median(alone):.1f} ms per request in one session, "
          f"{1000 * statistics.median(switching):.1f} ms alternating between two")


asyncio.run(main())
