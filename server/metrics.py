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
        self.requests = Counter("codefill_http_requests_total", "HTTP requests by endpoint, status and API key name",
                                ["endpoint", "status", "key"], registry=r)
        self.request_seconds = Histogram("codefill_http_request_duration_seconds",
                                         "Time from request to the end of its response (streams included)",
                                         ["endpoint"], buckets=_LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("codefill_http_requests_in_flight", "HTTP requests being served", registry=r)
        self.completion_seconds = Histogram("codefill_completion_duration_seconds",
                                            "Time to the whole completion", ["model", "stream"],
                                            buckets=_LATENCY_BUCKETS, registry=r)
        self.first_token_seconds = Histogram("codefill_time_to_first_token_seconds",
                                             "Time to the first text of a completion", ["model", "stream"],
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
        self.healed = Counter("codefill_completions_token_healed_total",
                              "Completions whose prompt's last token the model chose again (token healing)",
                              registry=r)
        self.cold_window = Counter("codefill_completions_cold_window_total",
                                   "Completions answered from the cold window because the KV cache held too "
                                   "little of the full prompt", registry=r)
        self.cancelled = Counter("codefill_completions_cancelled_total",
                                 "Completions stopped because the client went away", registry=r)
        # Limits and admission (server/limits.py).
        self.rejected = Counter("codefill_requests_rejected_total",
                                "Completion requests refused by a limit (rate, concurrency, queue, caps, timeout)",
                                ["reason"], registry=r)
        self.admission_pending = Gauge("codefill_admission_pending",
                                       "Completion requests admitted and not yet answered (running + queued)",
                                       registry=r)
        # Client feedback (server/api/events.py).
        self.events = Counter("codefill_completion_events_total",
                              "Completions shown, accepted or dismissed, as reported by clients",
                              ["event", "language"], registry=r)
        self.acceptance = Gauge("codefill_completion_acceptance_ratio",
                                "Accepted / shown completions by language, since the server started",
                                ["language"], registry=r)

        self.draft_tokens = Counter("codefill_speculative_draft_tokens_total",
                                    "Tokens drafted by prompt lookup for speculative decoding", registry=r)
        self.accepted_draft_tokens = Counter("codefill_speculative_accepted_tokens_total",
                                             "Drafted tokens the model kept (acceptance rate: this / drafted)",
                                             registry=r)

    def watch_engine(self, engine) -> None:
        """Counters an engine keeps itself (`engine.stats`, where it has one), read at each scrape."""
        if hasattr(engine, "stats"):
            self.registry.register(_EngineStats(engine))

    def observe_drafts(self, drafted: int, accepted: int) -> None:
        if drafted:
            self.draft_tokens.inc(drafted)
            self.accepted_draft_tokens.inc(accepted)

    def observe_completion(self, *, prompt_tokens: int, completion_tokens: int, cached_tokens: int,
                           duration: float, first_token: float | None, stream: bool, model: str = "") -> None:
        label = "true" if stream else "false"
        self.prompt_tokens.inc(prompt_tokens)
        self.cached_tokens.inc(cached_tokens)
        self.completion_tokens.inc(completion_tokens)
        self.completion_seconds.labels(model, label).observe(duration)
        if first_token is not None:
            self.first_token_seconds.labels(model, label).observe(first_token)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _EngineStats:
    """The llama.cpp engine's background work: cold windows grown to full ones in idle time."""

    def __init__(self, engine) -> None:
        self.engine = engine

    def describe(self):
        return []  # collected at scrape time only: the values change

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        stats = self.engine.stats
        yield CounterMetricFamily("codefill_cold_windows_grown", "Cold windows evaluated to the full prompt "
                                  "in idle time", value=stats.get("windows_grown", 0))
        yield CounterMetricFamily("codefill_cold_window_grown_tokens", "Prompt tokens evaluated in idle time "
                                  "to grow cold windows", value=stats.get("grown_tokens", 0))
        yield GaugeMetricFamily("codefill_cold_window_growth_pending", "1 while a cold window waits for idle "
                                "time to grow (or is growing)", value=stats.get("growth_pending", 0))
        yield from _batching(stats, getattr(self.engine, "step_histograms", ()))


def _batching(stats: dict, histograms):
    """The llama.cpp engine's continuous batching: sequences, KV cells, steps (engines/llama_cpp/stats.py)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

    gauges = {"sequences_in_use": ("codefill_engine_sequences_in_use", "Sequences serving a request now"),
              "kv_cells_in_use": ("codefill_engine_kv_cells_in_use", "KV cells held by sequences (shared heads "
                                  "counted once per sequence)"),
              "waiting": ("codefill_engine_requests_waiting", "Requests waiting for a sequence")}
    for key, (name, text) in gauges.items():
        if key in stats:
            yield GaugeMetricFamily(name, text, value=stats[key])
    counters = {"shared_prefix_tokens": ("codefill_engine_shared_prefix_tokens", "Prompt tokens taken from another "
                                         "sequence of the same cache salt instead of computed (seq_cp)"),
                "steps": ("codefill_engine_steps", "Engine steps (one batch each)"),
                "evicted_to_ram": ("codefill_engine_sessions_to_ram", "Idle sessions' KV states moved to RAM"),
                "restored_from_ram": ("codefill_engine_sessions_from_ram", "Sessions' KV states brought back from RAM")}
    for key, (name, text) in counters.items():
        if key in stats:
            yield CounterMetricFamily(name, text, value=stats[key])
    for h in histograms:
        yield HistogramMetricFamily(h.name, h.help, buckets=h.cumulative(), sum_value=h.sum)
