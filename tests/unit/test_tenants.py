"""Tenants with a scripted engine (fast): the fair queue, token reservations,
cache salts and sharing groups, per-tenant sessions, accounting of unfinished
requests, the admin API and the events rate limit.

The same behaviours run through a live server with the real model in
tests/integration/test_tenants_live.py."""

from __future__ import annotations

import asyncio
import json

import pytest

from codefill.server.service.fair import FairQueue
from codefill.server.api.protocol import CompletionUsage
from codefill.server.auth import KeyStore
from codefill.server.engines.base import Superseded
from codefill.server.limits import Gate, LimitSettings
from codefill.server.metrics import Metrics
from codefill.server.tenants import TenantSettings, session_key
from tests.fakes import FakeEngine
from tests.helpers import MODEL, assert_openai_error, in_process

ALICE, BOB, CAROL = "alice-secret-key", "bob-secret-key", "carol-secret-key"
ADMIN = "admin-secret-key-0123"
KEYS = KeyStore.load([f"alice={ALICE}", f"bob={BOB}", f"carol={CAROL}"])


# --- the fair queue -------------------------------------------------------------

async def _served_order(queue: FairQueue, arrivals: list[tuple[str, str | None]], hold: float = 0.01) -> list[str]:
    order: list[str] = []

    async def one(tenant: str, session: str | None, tag: str) -> None:
        async with queue.turn(tenant, session):
            order.append(tag)
            await asyncio.sleep(hold)

    tasks = []
    for i, (tenant, session) in enumerate(arrivals):
        tasks.append(asyncio.create_task(one(tenant, session, f"{tenant}{i}")))
        await asyncio.sleep(0)
    await asyncio.gather(*tasks, return_exceptions=True)
    assert queue.running == 0 and queue.waiting == 0
    return order


async def test_a_flood_does_not_starve_another_tenant():
    order = await _served_order(FairQueue(1), [("a", None)] * 6 + [("b", None)])
    # a0 was running when the rest came; b goes right after the a request served next.
    assert order.index("b6") <= 2


async def test_tenants_take_turns_by_weight():
    arrivals = [("a", None)] * 6 + [("b", None)] * 6
    order = await _served_order(FairQueue(1, {"a": 2.0}), arrivals)
    served = [tag[0] for tag in order[1:7]]  # after the first, while both wait: a, a, b, a, a, b ...
    assert served.count("a") == 4 and served.count("b") == 2


async def test_the_last_free_slot_is_kept_for_a_tenant_that_holds_none():
    queue = FairQueue(3)
    release = asyncio.Event()
    order: list[str] = []

    async def one(tenant, tag):
        async with queue.turn(tenant, None):
            order.append(tag)
            await release.wait()

    tasks = [asyncio.create_task(one("b", "b0"))]
    await asyncio.sleep(0)
    release.set()
    await tasks.pop()  # b typed a moment ago and is between keystrokes
    release.clear()
    tasks = [asyncio.create_task(one("a", f"a{i}")) for i in range(4)]
    await asyncio.sleep(0.01)
    assert order == ["b0", "a0", "a1"] and queue.running == 2  # a's third waits: the last slot is kept
    tasks.append(asyncio.create_task(one("b", "b1")))
    await asyncio.sleep(0.01)
    assert order[-1] == "b1" and queue.running == 3  # b's next keystroke goes straight in
    release.set()
    await asyncio.gather(*tasks)
    assert sorted(order) == ["a0", "a1", "a2", "a3", "b0", "b1"]


async def test_the_last_slot_is_not_kept_for_a_tenant_that_holds_one():
    queue = FairQueue(3)
    release = asyncio.Event()

    async def one(tenant):
        async with queue.turn(tenant, None):
            await release.wait()

    tasks = [asyncio.create_task(one("b"))]  # b's request is running: its next keystroke takes over its slot
    await asyncio.sleep(0)
    tasks += [asyncio.create_task(one("a")) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert queue.running == 3 and queue.waiting == 1
    release.set()
    await asyncio.gather(*tasks)


async def test_a_tenant_alone_uses_every_slot():
    queue = FairQueue(3)
    release = asyncio.Event()
    order: list[str] = []

    async def one(tag):
        async with queue.turn("a", None):
            order.append(tag)
            await release.wait()

    tasks = [asyncio.create_task(one(f"a{i}")) for i in range(4)]
    await asyncio.sleep(0.01)
    assert queue.running == 3
    release.set()
    await asyncio.gather(*tasks)


async def test_a_newer_request_of_a_session_takes_the_waiting_ones_place():
    queue = FairQueue(1)
    order: list[str] = []

    async def one(tenant, session, tag):
        async with queue.turn(tenant, session):
            order.append(tag)
            await asyncio.sleep(0.02)

    first = asyncio.create_task(one("a", None, "busy"))
    await asyncio.sleep(0)
    old = asyncio.create_task(one("b", "s", "old"))
    other = asyncio.create_task(one("c", None, "other"))
    await asyncio.sleep(0)
    new = asyncio.create_task(one("b", "s", "new"))
    await asyncio.sleep(0)
    with pytest.raises(Superseded):
        await old
    await asyncio.gather(first, other, new)
    assert order == ["busy", "new", "other"]  # "new" kept "old"'s place before "other"
    assert queue.running == 0 and queue.waiting == 0


async def test_a_newer_request_of_a_running_session_takes_its_slot_at_once():
    queue = FairQueue(1)
    older_in = asyncio.Event()
    release_older = asyncio.Event()

    async def older():
        async with queue.turn("a", "s"):
            older_in.set()
            await release_older.wait()  # the engine would supersede it now

    task = asyncio.create_task(older())
    await older_in.wait()
    async with queue.turn("a", "s"):  # does not wait for the older one
        assert queue.running == 1
        release_older.set()
        await task
        assert queue.running == 1  # the older one's end frees nothing: the slot is the newer one's
    assert queue.running == 0


async def test_a_cancelled_waiter_leaves_the_queue():
    queue = FairQueue(1)
    async with queue.turn("a", None):
        waiter = asyncio.create_task(queue.turn("b", None).__aenter__())
        await asyncio.sleep(0)
        assert queue.waiting == 1
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        assert queue.waiting == 0
    assert queue.running == 0


# --- token reservations -----------------------------------------------------------

def _usage(total: int) -> CompletionUsage:
    return CompletionUsage(prompt_tokens=0, completion_tokens=total, total_tokens=total)


def test_admission_reserves_tokens_and_gives_back_the_unused_part():
    gate = Gate(LimitSettings(rate_limit_tpm=100), Metrics())
    tickets = [gate.admit("a", 30) for _ in range(3)]  # 90 of 100 reserved
    with pytest.raises(Exception) as refused:
        gate.admit("a", 30)
    assert refused.value.status == 429
    tickets[0].charge(_usage(5))  # 25 back
    tickets[0].release()
    tickets[1].release()  # never charged (did not reach the engine): all 30 back
    fourth = gate.admit("a", 30)
    fourth.charge(_usage(30))
    assert gate._tokens["a"].level == pytest.approx(100 - 5 - 30 - 30, abs=0.5)
    fourth.charge(_usage(99))  # charged once only
    assert gate._tokens["a"].level == pytest.approx(35, abs=0.5)


def test_concurrent_requests_cannot_spend_more_than_the_budget():
    async def go():
        async with in_process(FakeEngine("x" * 10, delay=0.01), keys=KEYS,
                              limits=LimitSettings(rate_limit_tpm=60)) as (_, c):
            calls = [c.post("/v1/completions", json={"model": MODEL, "prompt": "ab", "max_tokens": 10},
                            headers={"Authorization": f"Bearer {ALICE}"}) for _ in range(10)]
            return await asyncio.gather(*calls)

    rs = asyncio.run(go())
    ok = [r for r in rs if r.status_code == 200]
    spent = sum(r.json()["usage"]["total_tokens"] for r in ok)
    assert len(ok) == 5 and spent == 60  # 12 reserved each: five fit in 60, the rest are 429
    assert all(r.json()["error"]["code"] == "rate_limit_exceeded" for r in rs if r.status_code != 200)


# --- settings ---------------------------------------------------------------------

def test_tenant_settings_groups_weights_and_admin_key():
    t = TenantSettings.build(share_cache=["bob+alice"], weights=["carol=3"], admin_key=ADMIN)
    assert t.salt_of("alice") == t.salt_of("bob") == "alice+bob" and t.salt_of("carol") == "carol"
    assert t.weights == {"carol": 3.0} and t.is_admin(ADMIN) and not t.is_admin(ALICE)
    for bad in ({"share_cache": ["alice"]}, {"share_cache": ["a+b", "b+c"]}, {"weights": ["x=0"]},
                {"weights": ["x"]}, {"admin_key": "short"}, {"admin_key": "sha256:xyz"}):
        with pytest.raises(ValueError):
            TenantSettings.build(**bad)
    assert session_key("ab", "c") != session_key("a", "bc")


# --- isolation through the API ------------------------------------------------------

@pytest.fixture
def tenant_client(open_client):
    """open_client with the tenants' keys and an engine that answers a recognisable canary."""
    return lambda engine=None, **kwargs: open_client(engine or FakeEngine("return 42  # canary"), keys=KEYS, **kwargs)


def _complete(c, key, **body):
    body = {"model": MODEL, "prompt": "def f():\n    ", "suffix": "\n", "max_tokens": 32, "user": "me", **body}
    return c.post("/v1/completions", json=body, headers={"Authorization": f"Bearer {key}"})


def test_typing_through_and_salts_stay_within_a_tenant_or_its_group(tenant_client):
    engine = FakeEngine("return 42  # canary")
    c = tenant_client(engine, tenants=TenantSettings.build(share_cache=["alice+carol"]))
    assert _complete(c, ALICE).json()["choices"][0]["text"] == "return 42  # canary"
    calls = len(engine.requests)
    # Bob types the first character of Alice's answer with her `user`: the engine answers him, not her memory.
    assert _complete(c, BOB, prompt="def f():\n    r").status_code == 200
    assert len(engine.requests) == calls + 1
    # Alice herself types through her own answer without the engine.
    assert _complete(c, ALICE, prompt="def f():\n    r").json()["choices"][0]["text"] == "eturn 42  # canary"
    assert len(engine.requests) == calls + 1
    salts = {r.session: r.cache_salt for r in engine.requests}
    assert salts[session_key("alice", "me")] == "alice+carol" and salts[session_key("bob", "me")] == "bob"


class _ColdEngine(FakeEngine):
    """Takes every cold window it is given, as the llama.cpp engine does with nothing cached."""

    uses_cold_window = True

    async def generate(self, request, result):
        result.cold_window = request.cold_tokens is not None or request.kept_tokens is not None
        result.cold_kept = request.kept_tokens is not None
        async for token in super().generate(request, result):
            yield token


def test_a_sessions_kept_cold_window_start_stays_within_its_tenant(tenant_client):
    """The start of a session's last cold window (a few lines of its code) is offered again to that
    tenant's session only: another key sending the same `user` and the same file gets none; the admin
    API's drop forgets it."""
    engine = _ColdEngine("x", n_ctx=8192)
    c = tenant_client(engine, tenants=TenantSettings.build(admin_key=ADMIN))
    lines = "".join(f"total_{i:03} = add(total_{i:03}, {i})\n" for i in range(90))
    for key in (ALICE, BOB):
        assert _complete(c, key, prompt=lines, max_tokens=1).status_code == 200
    assert [r.kept_tokens for r in engine.requests] == [None, None]
    engine.sessions_in_flight = 4  # three more typists: this keystroke's window is a third as long
    more = lines + "total = 0\n"
    assert _complete(c, ALICE, prompt=more, max_tokens=1).status_code == 200
    alice = engine.requests[-1]
    assert alice.kept_tokens and len(alice.kept_tokens) > len(alice.cold_tokens)
    assert engine.detokenize(alice.kept_tokens).startswith(engine.detokenize(engine.requests[0].cold_tokens))
    c.post("/admin/cache/drop", json={"tenant": "bob"}, headers={"Authorization": f"Bearer {ADMIN}"})
    assert _complete(c, BOB, prompt=more, max_tokens=1).status_code == 200
    assert engine.requests[-1].kept_tokens is None  # Bob's own start was dropped; Alice's is not his
    r = c.post("/admin/cache/drop", json={"tenant": "alice", "user": "me"},
               headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 200
    assert _complete(c, ALICE, prompt=more + "x", max_tokens=1).status_code == 200
    assert engine.requests[-1].kept_tokens is None


class _SmallEngine(FakeEngine):
    """Answers from the smallest cold window, as the llama.cpp engine does once others share it."""

    uses_cold_window = True

    async def generate(self, request, result):
        result.cold_window = result.cold_small = request.small_tokens is not None
        async for token in super().generate(request, result):
            yield token


def test_the_start_kept_is_that_of_the_window_the_engine_used(tenant_client):
    """An engine that moved to the smallest window tells so, and the session's next keystroke is offered
    that window grown to the cursor, not the longer one it was rendered with first."""
    engine = _SmallEngine("x", n_ctx=8192)
    c = tenant_client(engine, tenants=TenantSettings.build(admin_key=ADMIN))
    lines = "".join(f"total_{i:03} = add(total_{i:03}, {i})\n" for i in range(90))
    assert _complete(c, ALICE, prompt=lines, max_tokens=1).status_code == 200
    first = engine.requests[-1]
    assert first.small_tokens and len(first.small_tokens) < len(first.cold_tokens)
    assert _complete(c, ALICE, prompt=lines + "total = 0\n", max_tokens=1).status_code == 200
    kept = engine.requests[-1].kept_tokens
    assert kept and engine.detokenize(kept).startswith(engine.detokenize(first.small_tokens))
    assert not engine.detokenize(kept).startswith(engine.detokenize(first.cold_tokens))


def test_unfinished_requests_are_charged_and_counted_per_tenant(tenant_client):
    c = tenant_client(FakeEngine("x" * 200, delay=0.01),
                      limits=LimitSettings(request_timeout=0.3, rate_limit_tpm=1000))
    r = _complete(c, ALICE, max_tokens=200, user=None, suffix=None)
    assert assert_openai_error(r, 408)["code"] == "request_timeout"
    text = c.get("/metrics").text
    generated = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                 if line.startswith('codefill_tenant_tokens_total{key="alice",kind="completion"}')]
    assert generated and 0 < generated[0] < 200
    assert 'codefill_tenant_completions_unfinished_total{key="alice"} 1.0' in text
    bucket = c.app.state.gate._tokens["alice"]
    assert 1000 - bucket.level >= generated[0]  # the timed-out work was charged


# --- the admin API ------------------------------------------------------------------

def test_admin_api_needs_the_admin_key(tenant_client):
    c = tenant_client(tenants=TenantSettings.build(admin_key=ADMIN))
    assert _complete(c, ALICE).status_code == 200
    assert assert_openai_error(c.get("/admin/cache"), 401)["code"] == "missing_api_key"
    r = c.get("/admin/cache", headers={"Authorization": f"Bearer {ALICE}"})
    assert assert_openai_error(r, 403)["type"] == "permission_error"
    stats = c.get("/admin/cache", headers={"Authorization": f"Bearer {ADMIN}"}).json()
    assert stats["tenants"]["alice"]["completions"] == 1 and stats["remembered_answers"] == 1
    r = c.post("/admin/cache/drop", json={"tenant": "alice"}, headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 200 and r.json()["remembered_answers"] == 1
    off = tenant_client()
    r = off.get("/admin/cache", headers={"Authorization": f"Bearer {ADMIN}"})
    assert assert_openai_error(r, 403)["code"] == "admin_api_disabled"


def test_events_have_a_rate_limit(tenant_client):
    c = tenant_client(limits=LimitSettings(events_rate_limit_rps=1))
    cid = _complete(c, ALICE).json()["id"]
    statuses = [c.post("/v1/events", json={"id": cid, "event": e}, headers={"Authorization": f"Bearer {ALICE}"})
                .status_code for e in ("shown", "accepted", "dismissed")]
    assert statuses == [200, 200, 429]
    assert json.loads(c.get("/openapi.json").text)["paths"]["/admin/cache"]


def test_tenant_settings_from_the_environment(monkeypatch):
    from codefill.config import load_settings
    from codefill.server.settings import server_settings

    monkeypatch.setenv("CODEFILL_SHARE_CACHE", "alice+bob,carol+dave")
    monkeypatch.setenv("CODEFILL_TENANT_WEIGHTS", "alice=2")
    monkeypatch.setenv("CODEFILL_ADMIN_KEY", ADMIN)
    monkeypatch.setenv("CODEFILL_MAX_NUM_SEQS", "8")
    settings = load_settings()
    tenants = server_settings(settings).tenants
    assert tenants.salt_of("dave") == "carol+dave" and tenants.weights == {"alice": 2.0} and tenants.is_admin(ADMIN)
    assert settings.max_num_seqs == 8
    monkeypatch.setenv("CODEFILL_SHARE_CACHE", "alice")
    with pytest.raises(ValueError, match="two or more"):
        server_settings(load_settings())


def test_dropping_a_salt_drops_the_salts_narrowed_from_it_and_no_other():
    """A gateway in front of codefill sends its own `cache_salt`, which narrows the
    tenant's: the admin API's drop of the tenant must reach those states too."""
    from codefill.server.tenants import salt_covers, scoped

    tenants = TenantSettings.build(share_cache=["alice+bob"])
    narrowed = tenants.salt_of("alice", "gateway-salt")
    assert narrowed != tenants.salt_of("alice") and salt_covers(tenants.salt_of("bob"), narrowed)
    assert salt_covers("al", "al") and salt_covers("al", scoped("al", "x"))
    assert not salt_covers("al", scoped("alice", "x")) and not salt_covers("alice", scoped("al", "ice/x"))
    assert not salt_covers("al", "alice") and not salt_covers("al", None) and salt_covers(None, None)
