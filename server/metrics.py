"""Prometheus metrics, one registry per app (tests start several apps).

Names follow Prometheus conventions: `codefill_<what>_<unit>` and `_total`
for counters. Served at `GET /metrics`. Every metric the app keeps is one
row of `DECLARED` (its attribute on `Metrics`, kind, name, help, labels);
what an engine counts itself is read at each scrape (`_EngineStats`).
"""

from __future__ import annotations

from contextvars import ContextVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST

# The API a completion request came in through ("openai", "ollama", "llamacpp", "tabby"),
# set where it is admitted (api/admission.py) and read when it is counted.
dialect_var: ContextVar[str] = ContextVar("dialect", default="openai")

# attribute on Metrics: (kind, name, help, labels). Histograms have the latency buckets.
DECLARED: dict[str, tuple[type, str, str, tuple[str, ...]]] = {
    # HTTP (app.py RequestMetrics)
    "requests": (Counter, "codefill_http_requests_total", "HTTP requests by endpoint, status and API key name",
                 ("endpoint", "status", "key")),
    "request_seconds": (Histogram, "codefill_http_request_duration_seconds",
                        "Time from request to the end of its response (streams included)", ("endpoint",)),
    "in_flight": (Gauge, "codefill_http_requests_in_flight", "HTTP requests being served", ()),
    # Completions (service/usage.py and the service)
    "completion_seconds": (Histogram, "codefill_completion_duration_seconds", "Time to the whole completion",
                           ("model", "stream")),
    "first_token_seconds": (Histogram, "codefill_time_to_first_token_seconds",
                            "Time to the first text of a completion", ("model", "stream")),
    "completions": (Counter, "codefill_completions_total",
                    "Completions answered, by the API (dialect) they were asked in", ("dialect", "stream")),
    "prompt_tokens": (Counter, "codefill_prompt_tokens_total", "Prompt tokens processed", ()),
    "cached_tokens": (Counter, "codefill_prompt_tokens_cached_total",
                      "Prompt tokens reused from the KV cache instead of recomputed", ()),
    "completion_tokens": (Counter, "codefill_completion_tokens_total", "Tokens generated", ()),
    "superseded": (Counter, "codefill_completions_superseded_total",
                   "Completions stopped because a newer request of the same session came", ()),
    "typed_through": (Counter, "codefill_completions_typed_through_total",
                      "Answers served from the session's last completion, without the model", ()),
    "repeated": (Counter, "codefill_completions_repeated_total",
                 "Requests asked again unchanged, answered with the session's last answer, without the model", ()),
    "healed": (Counter, "codefill_completions_token_healed_total",
               "Completions whose prompt's last token the model chose again (token healing)", ()),
    "cold_window": (Counter, "codefill_completions_cold_window_total",
                    "Completions answered from the cold window because the KV cache held too little of the full "
                    "prompt", ()),
    "cold_kept": (Counter, "codefill_completions_cold_window_kept_total",
                  "Of those, answered from the session's last cold window grown to the cursor (its start kept, "
                  "its cache reused) rather than a window started anew", ()),
    "cold_small": (Counter, "codefill_completions_cold_window_small_total",
                   "Of those, answered from the smallest cold window because other sessions came to share the "
                   "engine (at placement, or while the request was still reading a longer window)", ()),
    "cancelled": (Counter, "codefill_completions_cancelled_total",
                  "Completions stopped because the client went away", ()),
    # Limits and admission (limits.py)
    "rejected": (Counter, "codefill_requests_rejected_total",
                 "Completion requests refused by a limit (rate, concurrency, queue, caps, timeout)", ("reason",)),
    "deadline_missed": (Counter, "codefill_deadline_missed_total",
                        "Completions dropped for their deadline (deadline_ms) or shed for the wait ahead of them, "
                        "by stage: engine (dropped there), queue (passed while waiting), admission (refused at once)",
                        ("tenant", "stage")),
    "admission_pending": (Gauge, "codefill_admission_pending",
                          "Completion requests admitted and not yet answered (running + queued)", ()),
    # Client feedback (api/feedback.py)
    "events": (Counter, "codefill_completion_events_total",
               "Completions shown, accepted or dismissed, as reported by clients", ("event", "language")),
    "acceptance": (Gauge, "codefill_completion_acceptance_ratio",
                   "Accepted / shown completions by language, since the server started", ("language",)),
    # Per tenant (API key names: bounded by the keys file), cancelled and superseded work included
    "tenant_tokens": (Counter, "codefill_tenant_tokens_total", "Tokens the engine worked on per API key name: "
                      "prompt (all), cached (of them, reused from the KV cache), completion", ("key", "kind")),
    "tenant_unfinished": (Counter, "codefill_tenant_completions_unfinished_total",
                          "Completions cancelled, superseded or timed out, per API key name", ("key",)),
    "cache_hit_ratio": (Gauge, "codefill_prompt_cache_hit_ratio", "Prompt tokens reused from the KV cache / prompt "
                        "tokens, since the server started, per API key name and overall (key=\"\")", ("key",)),
    "fair_waiting": (Gauge, "codefill_fair_queue_waiting", "Requests waiting for the engine, per API key name",
                     ("key",)),
    # Speculative decoding
    "draft_tokens": (Counter, "codefill_speculative_draft_tokens_total",
                     "Tokens drafted by prompt lookup for speculative decoding", ()),
    "accepted_draft_tokens": (Counter, "codefill_speculative_accepted_tokens_total",
                              "Drafted tokens the model kept (acceptance rate: this / drafted)", ()),
}


class Metrics:
    """The app's metrics: one attribute per row of `DECLARED`, all in `registry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        for attr, (kind, name, text, labels) in DECLARED.items():
            extra = {"buckets": _LATENCY_BUCKETS} if kind is Histogram else {}
            setattr(self, attr, kind(name, text, labels, registry=r, **extra))
        self.next_edits = Counter("codefill_next_edits_total", "Next-edit answers (/v1/next_edit), by result: "
                                  "edits, or no_edit", ["result"], registry=r)
        # What the admin API shows: per tenant, since the server started.
        self.tenants: dict[str, dict[str, int]] = {}

    def watch_engine(self, engine) -> None:
        """Counters an engine keeps itself (`engine.stats`, where it has one), read at each scrape."""
        if hasattr(engine, "stats"):
            self.registry.register(_EngineStats(engine))

    def observe_drafts(self, drafted: int, accepted: int) -> None:
        if drafted:
            self.draft_tokens.inc(drafted)
            self.accepted_draft_tokens.inc(accepted)

    def observe_completion(self, *, prompt_tokens: int, completion_tokens: int, cached_tokens: int,
                           duration: float | None, first_token: float | None, stream: bool, model: str = "",
                           tenant: str = "anonymous") -> None:
        """`duration` None: the completion did not finish (its tokens count, its time does not)."""
        label = "true" if stream else "false"
        self.completions.labels(dialect_var.get(), label).inc()
        self.prompt_tokens.inc(prompt_tokens)
        self.cached_tokens.inc(cached_tokens)
        self.completion_tokens.inc(completion_tokens)
        if duration is not None:
            self.completion_seconds.labels(model, label).observe(duration)
        if first_token is not None:
            self.first_token_seconds.labels(model, label).observe(first_token)
        self._observe_tenant(tenant, prompt_tokens, cached_tokens, completion_tokens, duration is not None)

    def _observe_tenant(self, tenant: str, prompt: int, cached: int, completion: int, finished: bool) -> None:
        for kind, n in (("prompt", prompt), ("cached", cached), ("completion", completion)):
            self.tenant_tokens.labels(tenant, kind).inc(n)
        if not finished:
            self.tenant_unfinished.labels(tenant).inc()
        t = self.tenants.setdefault(tenant, {"completions": 0, "unfinished": 0, "prompt_tokens": 0,
                                             "cached_tokens": 0, "completion_tokens": 0})
        t["completions"] += 1
        t["unfinished"] += int(not finished)
        t["prompt_tokens"] += prompt
        t["cached_tokens"] += cached
        t["completion_tokens"] += completion
        if t["prompt_tokens"]:
            self.cache_hit_ratio.labels(tenant).set(t["cached_tokens"] / t["prompt_tokens"])
        total = sum(x["prompt_tokens"] for x in self.tenants.values())
        if total:
            self.cache_hit_ratio.labels("").set(sum(x["cached_tokens"] for x in self.tenants.values()) / total)

    def render(self, waiting: dict[str, int] | None = None) -> bytes:
        """`waiting`: the fair queue's requests per key name, now."""
        if waiting is not None:
            self.fair_waiting.clear()
            for key, n in waiting.items():
                self.fair_waiting.labels(key).set(n)
        return generate_latest(self.registry)


class _EngineStats:
    """The llama.cpp engine's background work: cold windows grown to full ones in idle time."""

    def __init__(self, engine) -> None:
        self.engine = engine

    def describe(self):
        return []  # collected at scrape time only: the values change

    def collect(self):
        stats = self.engine.stats
        yield CounterMetricFamily("codefill_cold_windows_grown", "Cold windows evaluated to the full prompt "
                                  "in idle time", value=stats.get("windows_grown", 0))
        yield CounterMetricFamily("codefill_cold_window_grown_tokens", "Prompt tokens evaluated in idle time "
                                  "to grow cold windows", value=stats.get("grown_tokens", 0))
        yield CounterMetricFamily("codefill_cold_windows_shrunk", "Cold windows given up while still being read, "
                                  "for the smallest one, because other sessions came to share the engine",
                                  value=stats.get("cold_shrunk", 0))
        yield GaugeMetricFamily("codefill_cold_window_growth_pending", "1 while a cold window waits for idle "
                                "time to grow (or is growing)", value=stats.get("growth_pending", 0))
        yield from _batching(stats, getattr(self.engine, "step_histograms", ()))


def _batching(stats: dict, histograms):
    """The llama.cpp engine's continuous batching: sequences, KV cells, steps (engines/llama_cpp/stats.py)."""
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
                "restored_from_ram": ("codefill_engine_sessions_from_ram", "Sessions' KV states brought back from RAM"),
                "forecasts": ("codefill_engine_forecasts", "Requests drafted from their session's earlier answer "
                              "(the user typed what it began with)"),
                "forecast_drafted": ("codefill_engine_forecast_draft_tokens", "Tokens drafted from sessions' earlier "
                                     "answers (not counted in codefill_speculative_draft_tokens_total)"),
                "forecast_accepted": ("codefill_engine_forecast_accepted_tokens", "Tokens drafted from sessions' "
                                      "earlier answers that the model kept")}
    for key, (name, text) in counters.items():
        if key in stats:
            yield CounterMetricFamily(name, text, value=stats[key])
    for h in histograms:
        yield HistogramMetricFamily(h.name, h.help, buckets=h.cumulative(), sum_value=h.sum)
