"""What a completion request used, charged and counted however it ends.

`Usage` follows one request: when its first text came, and, once, the usage
its choices' `GenerationResult`s add up to, handed to the admission ticket
(`on_usage`: the tokens-per-minute charge) and to the metrics. A request
that did not finish (cancelled, superseded, timed out) is charged and counted
too; only its latency is left out of the latency histograms.

Prompt tokens count once per prompt (not per choice), and
`prompt_tokens_details.cached_tokens` says how many came from the KV cache.
Per key, the metrics are `codefill_tenant_tokens_total`,
`codefill_tenant_completions_unfinished_total` and `codefill_prompt_cache_hit_ratio`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..engines.base import GenerationResult
from ..metrics import Metrics
from ..api.protocol import CompletionUsage, PromptTokensDetails


def usage_of(results: list[GenerationResult], n: int) -> CompletionUsage:
    """The usage of a request's choices (`results[i]` is choice i's): a prompt is counted once
    however many completions (`n`) it gets."""
    prompt_tokens = sum(r.prompt_tokens for i, r in enumerate(results) if i % n == 0)
    cached = sum(r.cached_prompt_tokens for i, r in enumerate(results) if i % n == 0)
    completion_tokens = sum(r.completion_tokens for r in results)
    return CompletionUsage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                           total_tokens=prompt_tokens + completion_tokens,
                           prompt_tokens_details=PromptTokensDetails(cached_tokens=cached))


def record_choice(metrics: Metrics, result: GenerationResult) -> None:
    """What one choice's generation did beyond its tokens: drafts, the cold window."""
    metrics.observe_drafts(result.draft_tokens, result.accepted_draft_tokens)
    if result.cold_window:
        metrics.cold_window.inc()
    if result.cold_kept:
        metrics.cold_kept.inc()
    if result.cold_small:
        metrics.cold_small.inc()


class Usage:
    """One request's accounting: `text` marks the first text, `record` charges and counts (once)."""

    def __init__(self, metrics: Metrics, model: str, tenant: str, *, stream: bool,
                 on_usage: Callable[[CompletionUsage], None] | None = None) -> None:
        self.metrics = metrics
        self.model = model
        self.tenant = tenant
        self.stream = stream
        self.on_usage = on_usage
        self.started = time.monotonic()
        self.first_token: float | None = None
        self.recorded: CompletionUsage | None = None

    def text(self, text: str) -> None:
        if text and self.first_token is None:
            self.first_token = time.monotonic()

    def record(self, results: list[GenerationResult], n: int, finished: bool = True) -> CompletionUsage:
        """Charge and count what the engine did; a request that did not finish has no latency."""
        if self.recorded is not None:
            return self.recorded
        usage = self.recorded = usage_of(results, n)
        if self.on_usage is not None:
            self.on_usage(usage)
        self.metrics.observe_completion(
            model=self.model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else 0,
            duration=time.monotonic() - self.started if finished else None,
            first_token=(self.first_token - self.started) if self.first_token and finished else None,
            stream=self.stream, tenant=self.tenant,
        )
        return usage
