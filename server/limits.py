"""Limits: per-key rates and concurrency, the global admission bound, caps on
what one request may ask for, and the time it may take.

Admission counts completion requests from the moment they are let in until
their answer (or stream) ends, which covers both the request running on the
engine and those waiting for its worker. Past `max_pending` the server says
503 with Retry-After at once instead of letting latency grow without bound.
Rates are token buckets per key name: requests per second, and tokens per
minute. Admission reserves what a completion may use at most (its prompt
tokens and max_tokens for each choice), so concurrent requests cannot spend
more than the bucket holds; when it ends, however it ends (cancelled,
superseded, timed out included), it is charged what the engine really did and
the rest is given back. `/v1/events` has a requests-per-second bucket of its own.

In detail:
- Admission is a bound, not a queue of its own: requests wait in the fair
  queue (service/fair.py) and the engine, where a newer request of a session
  still supersedes an older one.
- Buckets are per key name. Requests per second have a burst of
  max(1, rate). For tokens per minute, the reservation is the prompt tokens
  (prompt and suffix, tokenized only when that limit is set) plus
  `max_tokens` for each choice; a request larger than the whole budget waits
  for a full bucket. The charge (`Ticket.charge`) is what the engine did
  (`GenerationResult`: prompt tokens of the prompts it started, tokens
  generated); a request that never reached the engine gets all of it back.
  A 429's `Retry-After` is the time until the request fits. The `/v1/events`
  bucket (`--events-rate-limit-rps`) has a burst of twice its rate.
- The time limit is one deadline per request, waiting included
  (`--request-timeout`): `Ticket.run` turns it into a 408, `Ticket.bounded`
  raises it in a stream: before the stream's first body it is the response
  (api/admission.py holds a stream's headers until then), after it api/sse.py
  `events` writes the error event and `[DONE]`. `Gate.drain(grace)`
  (lifecycle.py, on SIGTERM) moves every deadline to at most `grace` away and
  answers new requests 503 `server_shutting_down`; a request cut by the drain
  gets that 503 too.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from codefill.config import default

from .errors import APIError
from .metrics import Metrics
from .service.admission import Asked, default_max_tokens

T = TypeVar("T")


class Used(Protocol):
    """What a request is charged (api/protocol.py `CompletionUsage`)."""

    total_tokens: int


@dataclass
class LimitSettings:
    """The limits' part of the settings (codefill/config.py), with their defaults."""
    rate_limit_rps: float | None = default("rate_limit_rps")
    rate_limit_tpm: int | None = default("rate_limit_tpm")
    max_concurrent_per_key: int | None = default("max_concurrent_per_key")
    max_pending: int = default("max_pending")
    max_prompt_tokens: int | None = default("max_prompt_tokens")
    max_tokens_limit: int | None = default("max_tokens_limit")
    request_timeout: float = default("request_timeout")
    events_rate_limit_rps: float | None = default("events_rate_limit_rps")


class TokenBucket:
    """`capacity` tokens, refilled at `rate` a second. `take` may drive it
    negative (a debt paid back by waiting)."""

    def __init__(self, rate: float, capacity: float, now: float | None = None) -> None:
        self.rate = rate
        self.capacity = capacity
        self.level = capacity
        self.stamp = time.monotonic() if now is None else now

    def _refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, amount: float, now: float | None = None) -> float:
        """Seconds until `amount` is there (0: it is there now)."""
        now = time.monotonic() if now is None else now
        self._refill(now)
        return 0.0 if self.level >= amount else (amount - self.level) / self.rate

    def take(self, amount: float, now: float | None = None) -> None:
        """Negative: give back (never above capacity)."""
        self._refill(time.monotonic() if now is None else now)
        self.level = min(self.capacity, self.level - amount)


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


class Ticket:
    """One admitted completion request. `release` is idempotent."""

    def __init__(self, gate: Gate, key: str, reserved: int = 0) -> None:
        self.gate = gate
        self.key = key
        # Tokens taken from the key's tokens-per-minute bucket at admission, until charged.
        self.reserved = reserved
        self.charged: int | None = None
        self.deadline = time.monotonic() + gate.settings.request_timeout
        self.shutting_down = False
        self._timer: asyncio.Timeout | None = None
        self._released = False

    def charge(self, usage: Used) -> None:
        """What the request really used replaces its reservation (once)."""
        if self.charged is not None:
            return
        self.charged = usage.total_tokens
        bucket = self.gate._tokens.get(self.key)
        if bucket is not None:
            bucket.take(usage.total_tokens - self.reserved)

    def release(self) -> None:
        if not self._released:
            self._released = True
            if self.charged is None and self.reserved:  # never reached the engine: nothing was used
                bucket = self.gate._tokens.get(self.key)
                if bucket is not None:
                    bucket.take(-self.reserved)
            self.gate._release(self)

    def cut(self, grace: float) -> None:
        """The server is stopping: end within `grace` seconds."""
        self.shutting_down = True
        self.deadline = min(self.deadline, time.monotonic() + grace)
        if self._timer is not None:
            self._timer.reschedule(_loop_time(self.deadline))

    def _error(self) -> APIError:
        return self.gate.shutdown_error() if self.shutting_down else self.gate.timeout_error()

    async def run(self, work: Awaitable[T]) -> T:
        """`work`, or 408 when the request's time is up (503 when the server stops first)."""
        try:
            async with asyncio.timeout_at(_loop_time(self.deadline)) as self._timer:
                return await work
        except TimeoutError:
            raise self._error() from None
        finally:
            self._timer = None

    async def bounded(self, items: AsyncIterator[T]) -> AsyncIterator[T]:
        """`items` until they end, or 408 when the request's time is up (503 when the server stops first).
        Closing this closes `items`."""
        try:
            while True:
                try:
                    async with asyncio.timeout_at(_loop_time(self.deadline)) as self._timer:
                        item = await anext(items)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise self._error() from None
                finally:
                    self._timer = None
                yield item
        finally:
            await items.aclose()


def _loop_time(deadline: float) -> float:
    """A time.monotonic() deadline on the event loop's clock."""
    loop = asyncio.get_running_loop()
    return loop.time() + (deadline - time.monotonic())


class Gate:
    """Checks and admits completion requests; one per app."""

    def __init__(self, settings: LimitSettings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.pending = 0
        self.draining = False
        self._tickets: set[Ticket] = set()
        self._per_key: dict[str, int] = {}
        self._requests: dict[str, TokenBucket] = {}
        self._tokens: dict[str, TokenBucket] = {}
        self._events: dict[str, TokenBucket] = {}

    def drain(self, grace: float) -> None:
        """Stop admitting; requests in progress get `grace` seconds to finish, then end with a 503."""
        self.draining = True
        for ticket in list(self._tickets):
            ticket.cut(grace)

    def shutdown_error(self) -> APIError:
        self.metrics.rejected.labels("shutdown").inc()
        return APIError(503, "The server is shutting down; send the request again in a moment.",
                        code="server_shutting_down", headers=_retry_after(2))

    def timeout_error(self) -> APIError:
        self.metrics.rejected.labels("timeout").inc()
        return APIError(408, f"The completion took longer than the limit of {self.settings.request_timeout:g} s.",
                        code="request_timeout")

    def _reject(self, reason: str, status: int, message: str, *, code: str, param: str | None = None,
                retry_after: float | None = None) -> APIError:
        self.metrics.rejected.labels(reason).inc()
        return APIError(status, message, code=code, param=param,
                        headers=_retry_after(retry_after) if retry_after is not None else None)

    def weigh(self, req: Asked, engine) -> int:
        """Check the caps on what one request asks for (400) and return what admitting it reserves
        against its key's tokens-per-minute budget: its prompts' tokens (prompt + suffix) and
        max_tokens for each choice. Prompts are tokenized only where a limit needs them, and once."""
        s = self.settings
        if s.max_tokens_limit is not None and (req.max_tokens or 0) > s.max_tokens_limit:
            raise self._reject("max_tokens", 400, f"max_tokens ({req.max_tokens}) is over this server's limit "
                               f"of {s.max_tokens_limit}.", code="max_tokens_too_large", param="max_tokens")
        if not engine.ready or (s.max_prompt_tokens is None and not s.rate_limit_tpm):
            return 0
        suffix = len(engine.tokenize(req.suffix)) if req.suffix else 0
        counts = [(len(engine.tokenize(p)) if isinstance(p, str) else len(p)) + suffix for p in req.prompts]
        for n in counts:
            if s.max_prompt_tokens is not None and n > s.max_prompt_tokens:
                raise self._reject("prompt_tokens", 400, f"The prompt and suffix are {n} tokens; this server's "
                                   f"limit is {s.max_prompt_tokens}.", code="prompt_too_long", param="prompt")
        if not s.rate_limit_tpm:
            return 0
        max_tokens = req.max_tokens if req.max_tokens is not None else default_max_tokens(engine.info.n_ctx)
        return sum(counts) + max(0, max_tokens) * req.n * max(1, len(counts))

    def admit_event(self, key: str) -> None:
        """429 when `key` reports events faster than `events_rate_limit_rps`."""
        rate = self.settings.events_rate_limit_rps
        bucket = self._bucket(self._events, key, rate, 2 * (rate or 0), time.monotonic())
        if bucket is None:
            return
        wait = bucket.wait_for(1)
        if wait:
            raise self._reject("rate_events", 429, f"Rate limit reached for key '{key}': {rate:g} events per "
                               "second.", code="rate_limit_exceeded", retry_after=wait)
        bucket.take(1)

    def admit(self, key: str, reserve: int = 0) -> Ticket:
        """A ticket, or 429 (this key's rate or concurrency) / 503 (the server is full).
        `reserve`: tokens held against the key's tokens-per-minute budget until charged."""
        s = self.settings
        if self.draining:
            raise self.shutdown_error()
        now = time.monotonic()
        requests = self._bucket(self._requests, key, s.rate_limit_rps, max(1.0, s.rate_limit_rps or 0), now)
        if requests is not None:
            wait = requests.wait_for(1, now)
            if wait:
                raise self._reject("rate_requests", 429, f"Rate limit reached for key '{key}': "
                                   f"{s.rate_limit_rps:g} requests per second.", code="rate_limit_exceeded",
                                   retry_after=wait)
        tokens = self._bucket(self._tokens, key, (s.rate_limit_tpm or 0) / 60, s.rate_limit_tpm, now)
        if tokens is not None:
            # A request larger than the whole budget waits for a full bucket.
            reserve = int(min(reserve, tokens.capacity))
            wait = tokens.wait_for(max(1, reserve), now)
            if wait:
                raise self._reject("rate_tokens", 429, f"Rate limit reached for key '{key}': "
                                   f"{s.rate_limit_tpm} tokens per minute.", code="rate_limit_exceeded",
                                   retry_after=wait)
        if s.max_concurrent_per_key is not None and self._per_key.get(key, 0) >= s.max_concurrent_per_key:
            raise self._reject("concurrency", 429, f"Key '{key}' already has {s.max_concurrent_per_key} requests "
                               "open; wait for one to finish.", code="too_many_concurrent_requests", retry_after=1)
        if self.pending >= s.max_pending:
            raise self._reject("queue_full", 503, f"The server is at its limit of {s.max_pending} requests in "
                               "progress; try again shortly.", code="server_busy", retry_after=1)
        if requests is not None:
            requests.take(1, now)
        if tokens is not None and reserve:
            tokens.take(reserve, now)
        self.pending += 1
        self._per_key[key] = self._per_key.get(key, 0) + 1
        self.metrics.admission_pending.set(self.pending)
        ticket = Ticket(self, key, reserve if tokens is not None else 0)
        self._tickets.add(ticket)
        return ticket

    def _bucket(self, buckets: dict[str, TokenBucket], key: str, rate: float | None, capacity: float | None,
                now: float) -> TokenBucket | None:
        if not rate or not capacity:
            return None
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = TokenBucket(rate, capacity, now)
        return bucket

    def _release(self, ticket: Ticket) -> None:
        self._tickets.discard(ticket)
        self.pending -= 1
        left = self._per_key.get(ticket.key, 1) - 1
        if left:
            self._per_key[ticket.key] = left
        else:
            self._per_key.pop(ticket.key, None)
        self.metrics.admission_pending.set(self.pending)

