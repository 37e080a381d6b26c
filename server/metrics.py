"""Prometheus metrics, one registry per app (tests start several apps).

Names follow Prometheus conventions: `codefill_<what>_<unit>` and `_total`
for counters. Served at `GET /metrics`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("codefill_http_requests_total", "HTTP requests by endpoint and status",
                                ["endpoint", "status"], registry=r)
        self.in_flight = Gauge("codefill_http_requests_in_flight", "HTTP requests being served", registry=r)
        self.completion_seconds = Histogram("codefill_completion_duration_seconds",
                                            "Time to the whole completion", ["stream"],
                                            buckets=_LATENCY_BUCKETS, registry=r)
        self.first_token_seconds = Histogram("codefill_time_to_first_token_seconds",
                                             "Time to the first text of a completion", ["stream"],
                                             buckets=_LATENCY_BUCKETS, registry=r)
        self.prompt_tokens = Counter("codefill_prompt_tokens_total", "Prompt tokens processed", registry=r)
        self.cached_tokens = Counter("codefill_prompt_tokens_cached_total",
                                     "Prompt tokens reused from the KV cache instead of recomputed", registry=r)
        self.completion_tokens = Counter("codefill_completion_tokens_total", "Tokens generated", registry=r)
        self.superseded = Counter("codefill_completions_superseded_total",
                                  "Completions stopped because a newer request of the same session came", registry=r)
        self.typed_through = Counter("codefill_completions_typed_through_total",
                                     "Answers served from the session's last completion, without the model",
                                     registry=r)
        self.cancelled = Counter("codefill_completions_cancelled_total",
                                 "Completions stopped because the client went away", registry=r)

    def observe_completion(self, *, prompt_tokens: int, completion_tokens: int, cached_tokens: int,
                           duration: float, first_token: float | None, stream: bool) -> None:
        label = "true" if stream else "false"
        self.prompt_tokens.inc(prompt_tokens)
        self.cached_tokens.inc(cached_tokens)
        self.completion_tokens.inc(completion_tokens)
        self.completion_seconds.labels(label).observe(duration)
        if first_token is not None:
            self.first_token_seconds.labels(label).observe(first_token)

    def render(self) -> bytes:
        return generate_latest(self.registry)
