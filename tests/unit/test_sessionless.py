"""Implicit sessions (server/service/sessionless.py): the matcher on its own (common
prefix and end, the threshold, files, the LRU bound, tenants kept apart), the engines'
session table with requests that do not supersede, and the app with a scripted engine
that supersedes the way the real engines do: sessionless clients of one tenant that land
on one implicit session never cancel each other, and two tenants never share one.

The real model and engine: tests/integration/test_sessionless_live.py."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass

import httpx
import pytest

from codefill.server.auth import KeyStore
from codefill.server.engines.base import GenerationRequest, GenerationResult, Superseded
from codefill.server.engines.common import SessionTable
from codefill.server.engines.upstream import UpstreamEngine, _Job
from codefill.server.service.sessionless import (MAX_PER_TENANT, ImplicitSessions, common_prefix, common_suffix,
                                                 is_implicit)
from codefill.server.tenants import session_key
from tests.fakes import FakeEngine
from tests.helpers import MODEL, in_process

ALICE, BOB = "alice-secret-key", "bob-secret-key"
KEYS = KeyStore.load([f"alice={ALICE}", f"bob={BOB}"])

# ~1,600 characters in 72 lines: its prefixes stay under the 64 lines from which the prefix is anchored.
FILE = "".join(f"def function_{i}(argument):\n    return argument * {i} + offset\n\n" for i in range(24))
OTHER = "".join(f"class Record{i}:\n    value = 'a string of {i}'\n\n" for i in range(24))


def _naive_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def test_common_prefix_and_suffix_agree_with_a_plain_loop_across_chunks():
    rng = random.Random(7)
    for _ in range(300):
        base = "".join(rng.choice("ab\n") for _ in range(rng.randrange(0, 2000)))
        cut = rng.randrange(0, len(base) + 1)
        a = base + "".join(rng.choice("ab") for _ in range(rng.randrange(0, 5)))
        b = base[:cut] + "".join(rng.choice("ab") for _ in range(rng.randrange(0, 5)))
        assert common_prefix(a, b) == _naive_prefix(a, b)
        assert common_suffix(a, b) == _naive_prefix(a[::-1], b[::-1])


def _split(text: str, at: int) -> tuple[str, str]:
    return text[:at], text[at:]


def test_keystrokes_in_one_file_keep_one_session_and_another_file_gets_its_own():
    s = ImplicitSessions()
    users = [s.user_for("t", *_split(FILE, at)) for at in (500, 501, 502, 480, 700)]  # type, move a little
    assert len(set(users)) == 1 and is_implicit(users[0])
    other = s.user_for("t", *_split(OTHER, 500))
    assert other != users[0] and is_implicit(other)
    assert s.user_for("t", *_split(FILE, 503)) == users[0]  # back in the first file
    assert s.user_for("t", *_split(OTHER, 501)) == other
    assert len(s) == 2


def test_the_threshold_is_half_of_the_longer_text():
    whole = len(FILE)

    def jump(n: int) -> bool:
        """Whether a request of FILE's first and last n characters (2n, all of them shared) keeps
        the session of a keystroke that sent the whole file."""
        s = ImplicitSessions()
        first = s.user_for("t", FILE[:whole // 2], FILE[whole // 2:])
        return s.user_for("t", FILE[:n], FILE[whole - n:]) == first

    assert jump(whole // 4 + 10) and not jump(whole // 4 - 10)
    s = ImplicitSessions()
    first = s.user_for("t", FILE[:500], FILE[500:])
    # A short new file whose few characters begin a long one is not that file.
    assert s.user_for("t", FILE[:10], "") != first
    # Nothing in common at all: never a match, even for texts that are both short.
    assert s.user_for("t", "x", "") != s.user_for("t", "y", "")


def test_a_sliding_window_keeps_its_session():
    """Editors send the lines above the cursor: a new line drops the window's first one. The
    anchored prefix (prompt/fitting.py) keeps the head put, so the session stays."""
    lines = [f"value_{i} = compute({i}, 'some argument text')" for i in range(400)]
    s = ImplicitSessions()
    users = {s.user_for("t", "\n".join(lines[at - 120:at]) + "\n", "\n".join(lines[at:at + 30]))
             for at in range(200, 206)}
    assert len(users) == 1


def test_different_files_never_match_whatever_their_text():
    s = ImplicitSessions()
    a = s.user_for("t", FILE[:500], FILE[500:], filepath="a.py")
    assert s.user_for("t", FILE[:501], FILE[500:], filepath="b.py") != a
    assert s.user_for("t", FILE[:502], FILE[500:], filepath="a.py") == a


def test_the_session_that_shares_most_wins():
    s = ImplicitSessions()
    # Two files (kept apart by their names) that share their first 600 characters.
    p = s.user_for("t", "a" * 600 + "b" * 400, "", filepath="p.py")
    q = s.user_for("t", "a" * 600 + "c" * 400, "", filepath="q.py")
    assert p != q
    # A request that names no file matches both; the one it shares more with wins.
    assert s.user_for("t", "a" * 600 + "b" * 100, "") == p
    assert s.user_for("t", "a" * 600 + "c" * 100, "") == q


def test_the_table_is_bounded_least_recently_used_first():
    s = ImplicitSessions()
    docs = ["".join(f"{chr(97 + i % 26)}{i} {j}\n" for j in range(60)) for i in range(MAX_PER_TENANT + 1)]
    users = [s.user_for("t", d[:300], d[300:]) for d in docs]
    assert len(set(users)) == MAX_PER_TENANT + 1 and len(s) == MAX_PER_TENANT
    # The first went (least recently used); the second is still there.
    assert s.user_for("t", docs[1][:301], docs[1][300:]) == users[1]
    assert s.user_for("t", docs[0][:301], docs[0][300:]) not in users


def test_two_tenants_with_identical_prompts_get_different_sessions():
    s = ImplicitSessions()
    a = s.user_for("alice", FILE[:500], FILE[500:])
    b = s.user_for("bob", FILE[:500], FILE[500:])
    assert session_key("alice", a) != session_key("bob", b)  # even if their numbers were equal
    assert a != b  # and they are not: bob's table never saw alice's prompt
    assert s.user_for("bob", FILE[:501], FILE[500:]) == b


def test_requests_that_do_not_supersede_count_but_never_cancel():
    @dataclass(eq=False)
    class Job:
        superseded: bool = False

    table: SessionTable = SessionTable()
    one, two = Job(), Job()
    assert table.enter("s", one, supersede=False) is None
    assert table.enter("s", two, supersede=False) is None
    assert len(table) == 2 and not one.superseded and not two.superseded
    table.leave("s", one)
    table.leave("s", two)
    assert len(table) == 0
    real_old, real_new = Job(), Job()  # the ordinary rule still holds
    table.enter("s", real_old)
    assert table.enter("s", real_new) is real_old and real_old.superseded


class SupersedingEngine(FakeEngine):
    """A scripted engine that supersedes by session as the real engines do (engines/common.py)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._latest = SessionTable()

    async def generate(self, request: GenerationRequest, result: GenerationResult):
        @dataclass(eq=False)
        class Job:
            superseded: bool = False

        job = Job()
        older = self._latest.enter(request.session, job, supersede=request.supersede)
        try:
            async for token in super().generate(request, result):
                if job.superseded:
                    raise Superseded("superseded")
                yield token
        finally:
            self._latest.leave(request.session, job)
        assert older is None or older.superseded


def _infill(c, key: str, prefix: str, suffix: str, **extra):
    return c.post("/infill", json={"input_prefix": prefix, "input_suffix": suffix, "n_predict": 8, **extra},
                  headers={"Authorization": f"Bearer {key}"})


def _completion(c, key: str, prefix: str, suffix: str, **extra):
    return c.post("/v1/completions", json={"model": MODEL, "prompt": prefix, "suffix": suffix, "max_tokens": 8,
                                           **extra}, headers={"Authorization": f"Bearer {key}"})


async def test_sessionless_clients_on_one_implicit_session_do_not_cancel_each_other():
    engine = SupersedingEngine("abcdefgh", delay=0.02)
    async with in_process(engine, keys=KEYS) as (app, c):
        # Control: the same two keystrokes as one session's: the older is superseded (409).
        rs = await asyncio.gather(_completion(c, ALICE, FILE[:500], FILE[500:], user="me"),
                                  _completion(c, ALICE, FILE[:501], FILE[500:], user="me"))
        assert sorted(r.status_code for r in rs) == [200, 409]
        # Sessionless, on /infill and on /v1/completions: one implicit session, no 409.
        rs = await asyncio.gather(_infill(c, ALICE, FILE[:500], FILE[500:]),
                                  _infill(c, ALICE, FILE[:501], FILE[500:]),
                                  _completion(c, ALICE, FILE[:502], FILE[500:]),
                                  _completion(c, ALICE, FILE[:503], FILE[500:], stream=True))
        assert [r.status_code for r in rs] == [200] * 4, [r.text for r in rs]
    sessionless = [r for r in engine.requests if not r.supersede]
    assert len(sessionless) == 4 and len({r.session for r in sessionless}) == 1
    assert sessionless[0].session.startswith(session_key("alice", "")) and sessionless[0].cache_salt == "alice"


async def test_a_tenant_never_lands_on_another_tenants_implicit_session():
    engine = FakeEngine("abc")
    async with in_process(engine, keys=KEYS) as (_, c):
        for key in (ALICE, BOB, ALICE, BOB):  # identical prompts, alternating
            assert (await _infill(c, key, FILE[:500], FILE[500:])).status_code == 200
    by_tenant = {}
    for r in engine.requests:
        by_tenant.setdefault(r.tenant, set()).add((r.session, r.cache_salt))
    assert len(by_tenant["alice"]) == len(by_tenant["bob"]) == 1  # each kept its own session
    (alice,), (bob,) = by_tenant["alice"], by_tenant["bob"]
    assert alice[0] != bob[0] and alice[1] != bob[1]
    assert alice[0].startswith(session_key("alice", "")) and bob[0].startswith(session_key("bob", ""))


async def test_an_implicit_session_types_through_its_last_answer():
    engine = FakeEngine("value + 1")
    async with in_process(engine, keys=KEYS) as (_, c):
        first = await _completion(c, ALICE, FILE[:500] + "x = ", "\n" + FILE[500:], max_tokens=16)
        assert first.json()["choices"][0]["text"] == "value + 1"
        typed = await _completion(c, ALICE, FILE[:500] + "x = val", "\n" + FILE[500:])
        assert typed.json()["choices"][0]["text"] == "ue + 1"
        assert len(engine.requests) == 1  # answered from memory
        other = await _completion(c, BOB, FILE[:500] + "x = val", "\n" + FILE[500:])
        assert other.status_code == 200 and len(engine.requests) == 2  # not from alice's memory


async def test_an_implicit_session_learns_its_typing_rhythm():
    """A sessionless client typing gets a soft deadline from its implicit session's rhythm, as a client
    with a session does, and counts as a typist for the cold windows; another tenant's does not share it."""
    engine = FakeEngine("zzz")
    async with in_process(engine, keys=KEYS) as (app, c):
        sent = []
        for k in range(5):  # a keystroke every 0.15 s in one document
            sent.append(time.monotonic())
            assert (await _infill(c, ALICE, FILE[:500 + k], FILE[500:])).status_code == 200
            await asyncio.sleep(0.15 - (time.monotonic() - sent[-1]))
        assert app.state.service.rhythm.typing(time.monotonic()) == 1
        assert (await _infill(c, BOB, FILE[:504], FILE[500:])).status_code == 200
    alice = [r for r in engine.requests if r.tenant == "alice"]
    assert len(alice) == 5 and len({r.session for r in alice}) == 1
    assert [r.deadline is None for r in alice] == [True, False, False, False, False]  # from its first gap on
    for r, at in zip(alice[1:], sent[1:]):
        assert not r.deadline_hard and 0.1 <= r.deadline - at <= 1.0, r.deadline - at
    (bob,) = [r for r in engine.requests if r.tenant == "bob"]
    assert bob.deadline is None and bob.session != alice[0].session  # its own, with no rhythm yet


@pytest.mark.parametrize("body", [{"prompt": ["a = ", "b = "]}, {"prompt": "a = ", "user": "mine"}])
async def test_batches_and_clients_with_a_session_get_no_implicit_one(body):
    engine = FakeEngine("abc")
    async with in_process(engine, keys=KEYS) as (_, c):
        r = await c.post("/v1/completions", json={"model": MODEL, "max_tokens": 4, **body},
                         headers={"Authorization": f"Bearer {ALICE}"})
        assert r.status_code == 200
    assert engine.requests and all(r.supersede for r in engine.requests)
    assert {r.session for r in engine.requests} <= {None, session_key("alice", "mine")}


async def test_the_gateway_forwards_no_implicit_session():
    """Upstream, a session is a client's own, whose requests supersede each other: an implicit one
    stays in the gateway (its cache salt still goes)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"data: [DONE]\n\n", headers={"Content-Type": "text/event-stream"})

    engine = UpstreamEngine("http://upstream/v1/", "unused.gguf", model_id="m", transport=httpx.MockTransport(handler))
    engine.upstream_model = "served-model"
    for supersede in (True, False):
        request = GenerationRequest([1], 4, session=session_key("team", "~sessionless-1"), cache_salt="team",
                                    supersede=supersede)
        await engine._send(_Job(request), GenerationResult())
    await engine.close()
    own, implicit = seen
    assert "x-session-id" in own.headers and "user" in json.loads(own.content)
    assert "x-session-id" not in implicit.headers and "user" not in json.loads(implicit.content)
    assert json.loads(implicit.content)["cache_salt"] == "team"
