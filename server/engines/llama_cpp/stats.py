"""What the step loop measures, for the metrics endpoint.

The engine does not know the app's Prometheus registry (one per app), so it
keeps its own counts: counters and gauges in a dict, histograms as cumulative
bucket counts that `server/metrics.py` turns into Prometheus histograms at
each scrape. Written by the worker thread, read by the event loop: plain
integers and floats, a scrape may see one step half counted.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

TOKEN_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
SEQUENCE_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 32)
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Histogram:
    name: str
    help: str
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    sum: float = 0.0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus' buckets: (upper bound, observations <= it), +Inf last."""
        out, total = [], 0
        for bound, n in zip([*map(str, self.buckets), "+Inf"], self.counts):
            total += n
            out.append((bound, total))
        return out


class EngineStats:
    def __init__(self) -> None:
        self.counters = {"windows_grown": 0, "grown_tokens": 0, "steps": 0, "shared_prefix_tokens": 0,
                         "evicted_to_ram": 0, "restored_from_ram": 0, "deadline_dropped": 0,
                         "forecasts": 0, "forecast_drafted": 0, "forecast_accepted": 0, "cold_shrunk": 0}
        self.histograms = [
            Histogram("codefill_engine_step_tokens", "Tokens evaluated per engine step (decode + prefill)",
                      TOKEN_BUCKETS),
            Histogram("codefill_engine_step_sequences", "Sequences in one engine step", SEQUENCE_BUCKETS),
            Histogram("codefill_engine_queue_wait_seconds", "Time a request waited for a sequence",
                      SECONDS_BUCKETS),
            Histogram("codefill_engine_time_to_first_token_seconds",
                      "Time from a request reaching the engine to its first token", SECONDS_BUCKETS),
            Histogram("codefill_engine_time_per_output_token_seconds",
                      "Time between a request's tokens after the first", SECONDS_BUCKETS),
        ]
        self.step_tokens, self.step_sequences, self.queue_wait, self.ttft, self.tpot = self.histograms
