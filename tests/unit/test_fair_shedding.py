"""The fair queue under overload: a waiting request leaves when its hard deadline passes, and a
request whose projected answer time is longer than it can afford is refused at once (503 overloaded)."""

from __future__ import annotations

import asyncio
import time

import pytest

from codefill.server.engines.base import DeadlineMissed
from codefill.server.errors import APIError
from codefill.server.service.fair import FairQueue
from tests.fakes import FakeEngine
from tests.helpers import MODEL, in_process


async def _hold(queue: FairQueue, tenant: str, release: asyncio.Event, session: str | None = None) -> None:
    async with queue.turn(tenant, session):
        await release.wait()


async def test_a_waiting_request_leaves_when_its_hard_deadline_passes():
    queue = FairQueue(1)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(queue, "a", release))
    await asyncio.sleep(0)
    started = time.monotonic()
    with pytest.raises(DeadlineMissed):
        async with queue.turn("b", "s", deadline=time.monotonic() + 0.05):
            pytest.fail("it was never meant to run")
    assert time.monotonic() - started < 0.5  # at once, not when the slot freed
    assert queue.waiting == 0 and queue._waiting == {}
    release.set()
    await holder
    assert queue.running == 0


async def test_a_request_granted_before_its_deadline_keeps_its_slot():
    queue = FairQueue(1)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(queue, "a", release))
    await asyncio.sleep(0)
    ran = False

    async def waiter() -> None:
        nonlocal ran
        async with queue.turn("b", None, deadline=time.monotonic() + 0.2):
            ran = True
            await asyncio.sleep(0.3)  # past its deadline while running: the engine's business, not the queue's

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0.01)
    release.set()
    await asyncio.gather(holder, task)
    assert ran and queue.running == 0


async def test_a_request_costs_its_share_of_the_engine():
    queue = FairQueue(4)
    assert queue.cost_s is None
    release = asyncio.Event()
    side = asyncio.create_task(_hold(queue, "b", release))
    await asyncio.sleep(0)
    async with queue.turn("a", None):  # 0.2 s beside another: half the engine's time
        await asyncio.sleep(0.2)
    assert queue.cost_s is not None and 0.08 < queue.cost_s < 0.15
    release.set()
    await side
    assert queue.running == 0


async def test_no_shedding_before_a_request_is_measured_or_with_nothing_ahead():
    queue = FairQueue(2, max_wait=0.001)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(queue, "a", release))
    await asyncio.sleep(0)
    queue.admit("a", None)  # nothing measured
    release.set()
    await holder
    queue.cost_s = 10.0  # as if measured
    queue.admit("a", None)  # nothing running or waiting
    queue.admit("b", None)


async def test_a_request_whose_answer_would_take_too_long_is_refused_with_retry_after():
    queue = FairQueue(1, max_wait=5.0)
    release = asyncio.Event()
    holders = [asyncio.create_task(_hold(queue, "a", release, session=f"s{i}")) for i in range(4)]  # 1 runs, 3 wait
    await asyncio.sleep(0)
    queue.cost_s = 1.5
    queue.admit("b", None)  # b takes turns with a: 1 ahead and itself, 2 * 1.5 s = 3 s
    with pytest.raises(APIError) as refused:
        queue.admit("a", None)  # behind its own 4 (running and waiting): 5 * 1.5 s = 7.5 s
    assert refused.value.status == 503 and refused.value.code == "overloaded"
    assert refused.value.headers == {"Retry-After": "3"}  # 7.5 s - 5 s, when the excess has drained
    with pytest.raises(APIError):  # its own deadline is less than b's 3 s
        queue.admit("b", None, deadline=time.monotonic() + 2.5)
    queue.admit("b", None, deadline=time.monotonic() + 3.5)  # a hard deadline replaces max_wait
    queue.admit("a", "s0")  # not for a session that holds a slot (it takes that slot) or waits (its place)
    queue.admit("a", "s3")
    release.set()
    await asyncio.gather(*holders)


async def test_free_slots_do_not_admit_a_flood_but_another_tenant_gets_in():
    queue = FairQueue(8, max_wait=5.0)
    release = asyncio.Event()
    holders = [asyncio.create_task(_hold(queue, "a", release)) for _ in range(3)]  # 3 of 8 slots
    await asyncio.sleep(0)
    assert queue.running == 3
    queue.cost_s = 2.0
    with pytest.raises(APIError):  # a's fourth: its 3 and itself, 8 s, though 5 slots are free
        queue.admit("a", None)
    queue.admit("b", None)  # b takes turns with a: one of a's ahead of it, 4 s
    release.set()
    await asyncio.gather(*holders)


async def test_max_wait_zero_never_sheds():
    queue = FairQueue(1, max_wait=0.0)
    release = asyncio.Event()
    holders = [asyncio.create_task(_hold(queue, "a", release)) for _ in range(5)]
    await asyncio.sleep(0)
    queue.cost_s = 100.0
    queue.admit("a", None)
    with pytest.raises(APIError):  # a deadline still counts
        queue.admit("a", None, deadline=time.monotonic() + 1.0)
    release.set()
    await asyncio.gather(*holders)


async def test_an_overloaded_server_sheds_through_the_app():
    engine = FakeEngine("x" * 40, delay=0.02)
    engine.max_sequences = 1
    async with in_process(engine) as (app, client):
        app.state.service.fair.cost_s = 5.0  # as if a request took 5 s of the engine
        body = {"model": MODEL, "prompt": "x = ", "max_tokens": 40, "mode": "raw"}
        first = asyncio.create_task(client.post("/v1/completions", json=body))
        while app.state.service.fair.running == 0:
            await asyncio.sleep(0.005)
        r = await client.post("/v1/completions", json={**body, "deadline_ms": 2000, "stream": True})
        assert r.status_code == 503 and r.json()["error"]["code"] == "overloaded"
        assert int(r.headers["Retry-After"]) >= 5
        assert (await first).status_code == 200
        registry = app.state.metrics.registry
        assert registry.get_sample_value("codefill_deadline_missed_total",
                                         {"tenant": "anonymous", "stage": "admission"}) == 1


async def test_a_request_dropped_at_its_deadline_says_when_one_like_it_would_fit():
    """A client told nothing asks again at once: with the editors' deadline under the load test, the
    requests came as fast as they were dropped. Retry-After is when the work ahead will have drained
    enough for the same deadline to fit, as for a refusal at admission."""
    engine = FakeEngine("x" * 40, delay=0.02)
    engine.max_sequences = 1
    async with in_process(engine) as (app, client):
        fair = app.state.service.fair
        body = {"model": MODEL, "prompt": "x = ", "max_tokens": 40, "mode": "raw"}
        first = asyncio.create_task(client.post("/v1/completions", json=body))
        while fair.running == 0:
            await asyncio.sleep(0.005)
        late = asyncio.create_task(client.post("/v1/completions", json={**body, "deadline_ms": 300}))
        while fair.waiting == 0:
            await asyncio.sleep(0.005)
        fair.cost_s = 3.0  # measured meanwhile: the one ahead and itself, 6 s, where 0.3 s was asked
        r = await late
        assert r.status_code == 503 and r.json()["error"]["code"] == "deadline_exceeded"
        assert r.headers["Retry-After"] == "6"
        assert (await first).status_code == 200
