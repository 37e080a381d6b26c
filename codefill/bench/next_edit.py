"""`codefill bench next-edit`: next-edit suggestions on real edits between two releases.

Every case (next_edit_cases.py) is asked of two predictors side by side, one
case at a time: a server's `POST /v1/next_edit` (codefill started on the
default model unless --url names one) and the floor, the "copy the last edit's
pattern" rule (next_edit_floor.py). Both get the same request: the file, the
cursor at the end of the last edit, the most recent --history edits of the
file as unified diffs. The answers are scored as next_edit_score.py says and
printed as a table; --json also writes every answer. Progress goes to stderr.

`--mine` makes the cases again from PyPI (next_edit_mine.py) instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx

from . import next_edit_cases, next_edit_floor
from .next_edit_cases import Case
from .next_edit_score import Answer, Scored, format_table, score, summarize

FLOOR_LABEL = "floor: copy the last edit"
HISTORY_BYTES = 60 * 1024  # under the endpoint's 64 KiB of diffs


def request_body(case: Case, model: str, *, history: int, max_tokens: int | None = None,
                 prompt_format: str | None = None, user: str = "bench-next-edit") -> dict:
    """The next-edit request of a case: its `history` most recent events, fewer if their diffs
    would pass HISTORY_BYTES (the newest is always sent)."""
    events = case.history[-history:] if history > 0 else []
    while len(events) > 1 and sum(len(e["diff"].encode()) for e in events) > HISTORY_BYTES:
        events = events[1:]
    body = {"model": model, "path": case.path, "language": case.language, "text": case.text,
            "cursor": case.cursor, "history": events, "user": user}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if prompt_format is not None:
        body["format"] = prompt_format
    return body


def _answer_of(data: dict, latency: float) -> Answer:
    edits = data["edits"]
    if not isinstance(edits, list) or not isinstance(data["no_edit"], bool):
        raise ValueError("edits is not a list or no_edit not a boolean")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
    return Answer([{"range": e["range"], "text": e["text"]} for e in edits], data["no_edit"], latency, usage=usage)


class ServerPredictor:
    """A server's POST /v1/next_edit, one request at a time."""

    def __init__(self, url: str, model: str, *, label: str | None = None, api_key: str | None = None,
                 timeout: float = 600) -> None:
        self.url, self.model, self.label = url.rstrip("/"), model, label or url
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        self.client = httpx.Client(timeout=timeout, headers=headers)
        self.formats: set[str] = set()  # the prompt formats the server said it used

    def __call__(self, body: dict) -> Answer:
        t0 = time.monotonic()
        try:
            r = self.client.post(self.url + "/v1/next_edit", json={**body, "model": self.model})
        except httpx.HTTPError as exc:
            return Answer(error=f"{type(exc).__name__}: {exc}")
        latency = time.monotonic() - t0
        if r.status_code != 200:
            return Answer(latency=latency, error=f"HTTP {r.status_code}: {r.text[:300]}")
        try:
            data = r.json()
            if isinstance(data.get("format"), str):
                self.formats.add(data["format"])
            return _answer_of(data, latency)
        except (ValueError, KeyError, TypeError) as exc:
            return Answer(latency=latency, error=f"malformed answer ({exc}): {r.text[:300]}")

    def close(self) -> None:
        self.client.close()


class FloorPredictor:
    """The "copy the last edit's pattern" rule, run here."""

    label = FLOOR_LABEL

    def __call__(self, body: dict) -> Answer:
        t0 = time.monotonic()
        edits = next_edit_floor.predict(body["text"], body["cursor"], body["history"], body["path"])
        return Answer(edits, not edits, time.monotonic() - t0)

    def close(self) -> None:
        pass


def run(cases: list[Case], predictors: list, *, history: int = 8, max_tokens: int | None = None,
        prompt_format: str | None = None, model: str = "", show_progress: bool = True) -> dict[str, list[Scored]]:
    """Every case asked of every predictor in turn: predictor label -> the scored answers, in case order."""
    scored: dict[str, list[Scored]] = {p.label: [] for p in predictors}
    for i, case in enumerate(cases, 1):
        body = request_body(case, model, history=history, max_tokens=max_tokens, prompt_format=prompt_format)
        for p in predictors:
            s = score(case, p(body))
            scored[p.label].append(s)
            if s.error and show_progress:
                print(f"\n  {p.label}: {case.id}: {s.error}", file=sys.stderr)
        if show_progress:
            counts = ", ".join(f"{label}: {sum(s.exact and not s.quiet for s in got)} exact"
                               for label, got in scored.items())
            print(f"\r  next-edit: {i}/{len(cases)} cases ({counts})", end="", file=sys.stderr, flush=True)
    if show_progress:
        print(file=sys.stderr)
    return scored


def add_next_edit(bsub) -> None:
    p = bsub.add_parser("next-edit", help="next-edit suggestions on real edits between two releases of packages",
                        description="Cases mined from the diffs between two releases of a few PyPI packages: each "
                                    "multi-hunk change of a file split into history (earlier hunks, as unified "
                                    "diffs) and the next hunk, plus a quiet case per file where the change is "
                                    "complete. Asks a server's /v1/next_edit and the 'copy the last edit's "
                                    "pattern' rule the same requests; prints exact match, similarity, how often "
                                    "an edit was proposed, quiet precision and latency.")
    p.add_argument("--url", help="a server with POST /v1/next_edit (base URL); default: start codefill on "
                                 "--model-file for this run")
    p.add_argument("--model", help="model id to request (default: the server's first model)")
    p.add_argument("--api-key", help="sent as 'Authorization: Bearer KEY'")
    p.add_argument("--model-file", default="default",
                   help="model codefill is started on (path or catalogue name; default: the default model)")
    p.add_argument("--threads", type=int, help="CPU threads of the codefill started here")
    p.add_argument("--floor-only", action="store_true", help="ask no server: only the floor rule")
    p.add_argument("--cases", metavar="FILE", help="cases written by --mine (default: the ones shipped with codefill)")
    p.add_argument("--limit", type=_positive, help="only N cases, drawn with --seed (kept in their order)")
    p.add_argument("--seed", type=int, default=0, help="draws the --limit cases (default 0)")
    p.add_argument("--history", type=int, default=8, help="most recent edits sent with each request (default 8)")
    p.add_argument("--max-tokens", type=int, help="sent as max_tokens (default: the server's)")
    p.add_argument("--format", help="sent as the request's prompt format: zeta, zeta2, sweep or instinct "
                                              "(default: the server's choice)")
    p.add_argument("--json", metavar="FILE", help="also write the summaries and every scored answer here")
    p.add_argument("--mine", action="store_true", help="ask nothing: download the releases from PyPI and write "
                                                        "the cases (to --out)")
    p.add_argument("--packages", metavar="NAME:FROM:TO[,...]",
                   help="with --mine, the releases to compare (default: the ones the shipped cases list)")
    p.add_argument("--out", metavar="FILE", help="with --mine, where to write the cases (default: the shipped file "
                                                 "in this source tree)")
    p.set_defaults(func=cmd_next_edit)


def _positive(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return n


def _mine(args) -> int:
    from . import next_edit_mine

    if args.packages:
        specs = [next_edit_mine.parse_spec(s) for s in args.packages.split(",") if s]
    else:
        specs = next_edit_cases.load().packages
    case_set = next_edit_mine.mine(specs)
    out = args.out or Path(next_edit_cases.__file__).with_name(next_edit_cases.CASES_FILE)
    next_edit_cases.save(case_set, out)
    cases = case_set.cases()
    print(f"mine: {len(cases)} cases ({sum(c.quiet for c in cases)} quiet) from {len(case_set.changes)} files "
          f"written to {out}", file=sys.stderr)
    return 0


def cmd_next_edit(args: argparse.Namespace) -> int:
    if args.mine:
        return _mine(args)
    case_set = next_edit_cases.load(args.cases)
    cases = next_edit_cases.select(case_set.cases(), limit=args.limit, seed=args.seed)
    releases = ", ".join(f"{p['name']} {p['from']}->{p['to']}" for p in case_set.packages)
    print(f"next-edit: {len(cases)} cases ({sum(c.quiet for c in cases)} quiet) from {releases}", file=sys.stderr)
    server = None
    predictors: list = []
    try:
        if not args.floor_only:
            url = args.url
            if url is None:
                from codefill.models.store import resolve_model

                from .servers import start_codefill

                print("next-edit: starting codefill", file=sys.stderr)
                server = start_codefill(str(resolve_model(args.model_file)), threads=args.threads)
                url = server.url
            model = args.model or (server.model if server else _first_model(url, args.api_key))
            predictors.append(ServerPredictor(url, model, label=f"codefill ({model})" if server else url,
                                              api_key=args.api_key))
        predictors.append(FloorPredictor())
        scored = run(cases, predictors, history=args.history, max_tokens=args.max_tokens,
                         prompt_format=args.format)
    finally:
        for p in predictors:
            p.close()
        if server is not None:
            server.stop()
    summaries = [summarize(label, got) for label, got in scored.items()]
    for p, s in zip(predictors, summaries):
        if getattr(p, "formats", None):
            s["formats"] = sorted(p.formats)
            print(f"next-edit: {p.label} answered in prompt format {', '.join(s['formats'])}", file=sys.stderr)
    print(format_table(summaries))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "packages": case_set.packages, "limit": args.limit, "seed": args.seed, "history": args.history,
            "summaries": summaries, "answers": {label: [s.as_dict() for s in got] for label, got in scored.items()},
        }, indent=1) + "\n", encoding="utf-8")
    return 0


def _first_model(url: str, api_key: str | None) -> str:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    return httpx.get(url.rstrip("/") + "/v1/models", headers=headers, timeout=30).json()["data"][0]["id"]
