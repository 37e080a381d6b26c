"""The HTTP request counter's status: a request cancelled before any answer, or
whose client left before any answer was begun, counts as 499 (nginx's "client
closed request"), not as a server error; a failure before any answer stays a
500."""

from __future__ import annotations

import asyncio

import pytest

from codefill.server.app import RequestMetrics
from codefill.server.metrics import Metrics


def count(metrics: Metrics, status: str) -> float:
    return metrics.registry.get_sample_value("codefill_http_requests_total",
                                             {"endpoint": "other", "status": status, "key": "unauthenticated"}) or 0.0


async def call(app, metrics: Metrics, *, leaves: bool = False) -> None:
    scope = {"type": "http", "path": "/v1/completions", "method": "POST", "headers": []}

    async def receive():
        return {"type": "http.disconnect"} if leaves else {"type": "http.request", "body": b""}

    async def send(message):
        pass

    await RequestMetrics(app, metrics=metrics)(scope, receive, send)


async def test_a_request_cancelled_before_any_answer_counts_as_499():
    metrics = Metrics()

    async def leaves(scope, receive, send):
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await call(leaves, metrics)
    assert count(metrics, "499") == 1 and count(metrics, "500") == 0


async def test_a_failure_before_any_answer_counts_as_500_and_an_answer_as_itself():
    metrics = Metrics()

    async def fails(scope, receive, send):
        raise RuntimeError("boom")

    async def answers_then_cancelled(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise asyncio.CancelledError

    with pytest.raises(RuntimeError):
        await call(fails, metrics)
    with pytest.raises(asyncio.CancelledError):
        await call(answers_then_cancelled, metrics)
    assert count(metrics, "500") == 1 and count(metrics, "200") == 1 and count(metrics, "499") == 0


async def test_a_stream_whose_client_left_before_it_began_counts_as_499():
    # sse-starlette's response returns without starting when it hears the disconnect first.
    async def hears_the_client_leave(scope, receive, send):
        assert (await receive())["type"] == "http.disconnect"

    async def returns_without_answering(scope, receive, send):
        await receive()

    metrics = Metrics()
    await call(hears_the_client_leave, metrics, leaves=True)
    await call(returns_without_answering, metrics)  # nobody left: a server fault
    assert count(metrics, "499") == 1 and count(metrics, "500") == 1
