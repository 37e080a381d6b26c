"""What post-processing costs per request: `python -m codefill.bench.postprocess_cost`.

Editors send about 120 lines before the cursor. This takes real files (the
Python standard library for Python, the system's C headers for C), puts the
cursor at the start of each body line after a block opener, shows the
pipeline 120 lines before it and 40 after, and feeds the file's own next
lines as the "completion" in model-sized tokens, then prints the median and
90th percentile of the whole pipeline's CPU time per request (built, fed,
finished; CPU time, since other work shares the machine), with the request's
language (tree-sitter filters on) and without (off).
No model is involved: compare with the model's own time per completion
(tens to hundreds of milliseconds).
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import statistics
import sysconfig
import time

from codefill.server.postprocess import plan

WINDOW_BEFORE, WINDOW_AFTER, COMPLETION_LINES = 120, 40, 6


def _tokens(text: str) -> list[str]:
    return re.findall(r"[ \t]*\w+|[ \t]*[^\w\s]|\n|[ \t]+", text)


def _cases(files: list[str], opener: tuple[str, ...], limit: int) -> list[tuple[str, str, str]]:
    cases = []
    for path in files:
        try:
            lines = open(path, encoding="utf-8").read().split("\n")
        except (OSError, UnicodeDecodeError):
            continue
        for i in range(WINDOW_BEFORE, len(lines) - COMPLETION_LINES - WINDOW_AFTER):
            if not lines[i - 1].rstrip().endswith(opener) or not lines[i].strip():
                continue
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            prefix = "\n".join(lines[i - WINDOW_BEFORE : i]) + "\n" + indent
            body = lines[i : i + COMPLETION_LINES]
            completion = "\n".join([body[0].lstrip()] + body[1:]) + "\n"
            suffix = "\n" + "\n".join(lines[i + COMPLETION_LINES : i + COMPLETION_LINES + WINDOW_AFTER])
            cases.append((prefix, completion, suffix))
            if len(cases) >= limit:
                return cases
    return cases


def _time(cases, language: str | None, repeats: int) -> list[float]:
    times = []
    for prefix, completion, suffix in cases:
        pieces = _tokens(completion)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.thread_time()
            pipeline = plan(prefix, suffix, language=language).pipeline
            for piece in pieces:
                pipeline.push(piece)
                if pipeline.done:
                    break
            pipeline.finish()
            best = min(best, time.thread_time() - t0)
        times.append(best * 1000)
    return times


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=200, help="cursor positions per language")
    ap.add_argument("--repeats", type=int, default=3, help="runs per case; the fastest counts (a busy machine)")
    args = ap.parse_args(argv)
    stdlib = sysconfig.get_paths()["stdlib"]
    corpora = {
        "python": (sorted(glob.glob(os.path.join(stdlib, "*.py"))), (":",)),
        "c": (sorted(glob.glob("/usr/include/*.h")), ("{",)),
    }
    print(f"{'language':<8} {'cases':>5} {'tree-sitter':>11} {'median ms':>9} {'p90 ms':>7} {'max ms':>7}  (CPU time)")
    for lang, (files, opener) in corpora.items():
        cases = _cases(files, opener, args.cases)
        if not cases:
            print(f"{lang:<8} no files found")
            continue
        for language in (lang, None):
            ms = sorted(_time(cases, language, args.repeats))
            p90 = ms[int(0.9 * (len(ms) - 1))]
            print(f"{lang:<8} {len(cases):>5} {'on' if language else 'off':>11} {statistics.median(ms):>9.2f} "
                  f"{p90:>7.2f} {ms[-1]:>7.2f}")


if __name__ == "__main__":
    main()
