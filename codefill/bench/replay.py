"""`codefill bench replay`: typists replaying real code against a completion server.

Closed loop: each typist waits for its answer before the next word.
Open loop: each typist types a word every `interval` seconds and abandons a
request still running when the next is due, as editors do (the HTTP request
is closed, which a server can notice and stop working for).

Latency is measured on the client, from sending the request to having the
whole answer. Exact match compares the answer with the true rest of the line.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass, field

import httpx

from . import dialects
from .workload import Keystroke, Place


@dataclass
class RunConfig:
    url: str  # base URL, e.g. http://127.0.0.1:8000
    model: str
    typists: int = 1
    open_loop: bool = False
    interval: float = 0.25
    with_suffix: bool = True
    max_tokens: int = 32
    label: str = ""
    details: object = None  # an open text file: one JSON line per answered request
    api_key: str | None = None  # sent as 'Authorization: Bearer KEY'
    user: str = "typist"  # the typists' `user` is this and their number
    dialect: str = "openai"  # the wire format (bench/dialects.py)
    session: bool = True  # send each typist's session (`user`, X-Session-Id); False: as clients that send none


@dataclass
class Result:
    label: str
    typists: int = 1
    requests: int = 0
    completed: int = 0
    abandoned: int = 0
    errors: int = 0
    exact: int = 0
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    by_stroke: dict[tuple[str, int], float] = field(default_factory=dict)  # (place, prefix length) -> latency

    def summary(self) -> dict:
        lat = sorted(self.latencies)

        def pct(p: float) -> float | None:
            if not lat:
                return None
            return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]

        return {
            "label": self.label,
            "typists": self.typists,
            "requests": self.requests,
            "completed": self.completed,
            "abandoned": self.abandoned,
            # Keystrokes answered before the next word came (open loop; closed loop: all that did not fail).
            "answered": round(self.completed / self.requests, 3) if self.requests else None,
            "errors": self.errors,
            "p50_ms": _ms(pct(50)),
            "p90_ms": _ms(pct(90)),
            "p99_ms": _ms(pct(99)),
            "mean_ms": _ms(statistics.fmean(lat)) if lat else None,
            "exact_match": round(self.exact / self.completed, 4) if self.completed else None,
            "throughput_rps": round(self.completed / self.wall, 2) if self.wall else None,
            "wall_s": round(self.wall, 1),
        }


def paired(base: Result, other: Result) -> dict | None:
    """Each keystroke both runs answered, compared with itself: the median of other's latency / base's,
    the median of other's minus base's (ms), and how many there were. Where a run's latencies are two
    clusters (answers from memory in a few ms, the model's in tens), its p50 is whichever cluster
    holds the middle keystroke, and two runs of the same requests can differ several-fold there while
    no keystroke is slower by more than a little."""
    keys = [k for k in base.by_stroke.keys() & other.by_stroke.keys() if base.by_stroke[k] > 0]
    if not keys:
        return None
    return {"median_ratio": round(statistics.median(other.by_stroke[k] / base.by_stroke[k] for k in keys), 3),
            "median_extra_ms": _ms(statistics.median(other.by_stroke[k] - base.by_stroke[k] for k in keys)),
            "keystrokes": len(keys)}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


async def _ask(client: httpx.AsyncClient, cfg: RunConfig, stroke: Keystroke, typist: int, res: Result) -> None:
    res.requests += 1
    started = time.monotonic()
    try:
        user = f"{cfg.user}-{typist}" if cfg.session else None
        path, body = dialects.request(cfg.dialect, cfg.model, stroke, max_tokens=cfg.max_tokens,
                                      with_suffix=cfg.with_suffix, user=user)
        # The session as a header too, as editors send it: what a load balancer hashes on.
        r = await client.post(cfg.url + path, json=body, headers={"X-Session-Id": user} if user else None)
    except asyncio.CancelledError:
        res.abandoned += 1
        raise
    except httpx.HTTPError:
        res.errors += 1
        return
    if r.status_code != 200:
        res.errors += 1
        return
    latency = time.monotonic() - started
    res.latencies.append(latency)
    res.by_stroke[stroke.place, len(stroke.prefix)] = latency
    res.completed += 1
    data = r.json()
    answer = dialects.answer(cfg.dialect, data)
    exact = dialects.first_line(answer).strip() == stroke.expected.strip()
    res.exact += exact
    if cfg.details is not None:
        cfg.details.write(json.dumps({"label": res.label, "typist": typist, "place": stroke.place,
                                      "line": stroke.prefix.rsplit("\n", 1)[-1], "expected": stroke.expected,
                                      "answer": answer, "exact": exact, "latency": round(latency, 4),
                                      "tokens": (data.get("usage") or {}).get("completion_tokens")}) + "\n")


async def _typist(cfg: RunConfig, places: list[Place], typist: int, res: Result, progress) -> None:
    limits = httpx.Limits(max_connections=4)
    headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else None
    async with httpx.AsyncClient(timeout=120, limits=limits, headers=headers) as client:
        for place in places:
            if not cfg.open_loop:
                for stroke in place.keystrokes:
                    await _ask(client, cfg, stroke, typist, res)
                    progress()
                continue
            pending: asyncio.Task | None = None
            for stroke in place.keystrokes:
                if pending is not None and not pending.done():
                    pending.cancel()  # the next word is typed: this answer is no longer wanted
                pending = asyncio.create_task(_ask(client, cfg, stroke, typist, res))
                progress()
                await asyncio.sleep(cfg.interval)
            if pending is not None:
                await asyncio.gather(pending, return_exceptions=True)


async def run(cfg: RunConfig, workload: list[Place], *, show_progress: bool = True) -> Result:
    res = Result(cfg.label or cfg.url, cfg.typists)
    total = sum(len(p.keystrokes) for p in workload)
    done = 0

    def progress() -> None:
        nonlocal done
        done += 1
        if show_progress and (done % 10 == 0 or done == total):
            print(f"\r  {res.label}: {done}/{total} keystrokes", end="", file=sys.stderr, flush=True)

    shares = [workload[i :: cfg.typists] for i in range(cfg.typists)]
    started = time.monotonic()
    await asyncio.gather(*(_typist(cfg, share, i, res, progress) for i, share in enumerate(shares)))
    res.wall = time.monotonic() - started
    if show_progress:
        print(file=sys.stderr)
    return res


def format_table(summaries: list[dict]) -> str:
    """The summaries as a table; with the ceiling (ceiling.py) next to the answered share when they have it."""
    ceiling = ["ceiling", "answered/ceiling"] if any("ceiling" in s for s in summaries) else []
    cols = ["label", "requests", "completed", "answered", *ceiling, "abandoned", "errors", "p50_ms", "p90_ms",
            "p99_ms", "exact_match", "throughput_rps", "wall_s"]
    rows = [cols] + [[("-" if s.get(c) is None else str(s[c])) for c in cols] for s in summaries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    return "\n".join("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths)))
                     for r in rows)

