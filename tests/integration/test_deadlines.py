"""Deadline scheduling on the real default model through the llama.cpp engine: a request whose
hard deadline cannot be met is dropped and counted, never answered late after the others were;
under contention the earliest deadline is answered first; the engine's measured costs are real.
(The planner's rules on a fake context: tests/unit/test_step_planner.py; deadline_ms, the typing
rhythm and shedding in the service: tests/unit/test_deadlines.py, test_fair_shedding.py.)"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from codefill.models.store import resolve_model
from codefill.server.engines.base import DeadlineMissed, GenerationRequest, GenerationResult
from codefill.server.engines.llama_cpp import LlamaCppEngine
from codefill.server.engines.llama_cpp.costs import DEFAULT_STEP_S, DEFAULT_TOKEN_S, StepCosts
from tests.integration.test_batching import FILES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def engine():
    e = LlamaCppEngine(resolve_model("default", fetch=False), model_id="test", n_ctx=2048, sequences=4,
                       step_tokens=128)
    asyncio.run(e.start())
    yield e
    asyncio.run(e.close())


async def ask(engine, prompt, *, session, deadline_s=None, hard=False, max_tokens=12):
    """(tokens, result, when it ended, the exception if any)."""
    deadline = time.monotonic() + deadline_s if deadline_s is not None else None
    req = GenerationRequest(engine.tokenize(prompt, add_bos=True), max_tokens, session=session,
                            deadline=deadline, deadline_hard=hard)
    result, tokens = GenerationResult(), []
    try:
        async for t in engine.generate(req, result):
            tokens.append(t)
    except DeadlineMissed as exc:
        return tokens, result, time.monotonic(), exc
    return tokens, result, time.monotonic(), None


def test_the_engine_measures_its_step_costs_at_start(engine):
    costs = engine._loop.costs
    # Real numbers of a real model on this machine, measured before start returned, not the defaults
    # (what they are depends on what else computes beside the test: seconds, under the whole suite).
    assert 1e-4 < costs.decode(1) < 10.0 and 1e-6 < costs.per_token < 1.0
    assert (costs.decode(1), costs.per_token) != (DEFAULT_STEP_S, DEFAULT_TOKEN_S)
    # And what a step costs by its token count: more tokens never cost less, a chunk more than a token.
    table = [v for k, v in costs.snapshot().items() if k.startswith("tokens_")]
    assert table == sorted(table) and table[-1] > table[0]
    assert engine._loop.measure is not None  # and measured again after dropping requests (unit tests)


def test_the_server_is_ready_only_once_its_step_costs_are_measured(monkeypatch):
    """/ready said 200 as soon as the weights were loaded, while the probe still ran: the first
    requests, or a server started next on that signal, computed beside the probe (slowed by it, and
    inflating what it measured). Real model, real app: /ready and a completion are refused until the
    probe is done, then both are served."""
    from fastapi.testclient import TestClient

    from codefill.server.app import create_app
    from codefill.server.engines.llama_cpp import engine as engine_module

    entered, gate = threading.Event(), threading.Event()
    real = engine_module.probe

    def held_probe(*args, **kwargs):
        entered.set()
        gate.wait(60)
        real(*args, **kwargs)

    monkeypatch.setattr(engine_module, "probe", held_probe)
    e = LlamaCppEngine(resolve_model("default", fetch=False), model_id="test", n_ctx=2048, sequences=2)
    with TestClient(create_app(e, served_names=["test"])) as client:
        try:
            assert entered.wait(60), "the probe never started"
            assert e.n_vocab > 0  # the weights are loaded: only the measurement is missing
            r = client.get("/ready")
            assert r.status_code == 503 and r.json()["error"]["code"] == "model_loading"
            r = client.post("/v1/completions", json={"model": "test", "prompt": "def f(", "max_tokens": 2})
            assert r.status_code == 503 and r.json()["error"]["code"] == "model_loading"
        finally:
            gate.set()
        deadline = time.monotonic() + 60
        while client.get("/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get("/ready").json()["status"] == "ready"
        r = client.post("/v1/completions", json={"model": "test", "prompt": "def f(", "max_tokens": 2})
        assert r.status_code == 200 and r.json()["choices"][0]["text"] is not None
        assert e._loop.costs.snapshot()["tokens_1"] != DEFAULT_STEP_S  # measured, not the defaults


def test_a_deadline_that_cannot_be_met_is_dropped_and_counted_never_answered_late(engine):
    async def run():
        dropped_before = engine.stats["deadline_dropped"]
        # A long cold prompt with a 5 ms deadline: no machine evaluates it in time. The others' deadlines
        # are soft: they order the work but drop nothing, so the count does not hang on how fast this
        # machine is while the rest of the suite computes beside it.
        hopeless = ask(engine, FILES[0] * 3, session="hopeless", deadline_s=0.005, hard=True)
        fine = [ask(engine, p, session=f"fine-{i}", deadline_s=60) for i, p in enumerate(FILES[1:])]
        return await asyncio.gather(hopeless, *fine), engine.stats["deadline_dropped"] - dropped_before

    (hopeless, *fine), dropped = asyncio.run(run())
    tokens, result, ended, exc = hopeless
    assert isinstance(exc, DeadlineMissed) and exc.status == 503 and exc.code == "deadline_exceeded"
    assert tokens == [] and result.finish_reason == "deadline" and dropped == 1
    # Dropped before the others were answered, not after them.
    assert all(ended < other_end for _, _, other_end, _ in fine)
    assert all(e is None and toks for toks, _, _, e in fine)


def test_a_soft_deadline_orders_work_but_is_answered_even_when_late(engine):
    tokens, result, _, exc = asyncio.run(ask(engine, FILES[2], session="soft-late", deadline_s=0.001))
    assert exc is None and tokens and result.finish_reason in ("stop", "length")


class SerialCosts(StepCosts):
    """The engine's costs as measured just now, held still, and with a step of W sequences priced at W + 1
    steps of one: side by side is never worth it, so each step advances one request, and which one is
    the deadlines' call alone. (With the costs as learned, whether four answers go one at a time or two
    abreast turns on a few milliseconds, and the rest of the suite computing beside the test moves them.)"""

    def __init__(self, measured: StepCosts) -> None:
        super().__init__(measured.decode(1), measured.per_token)

    def ratio(self, width: int) -> float:
        return 1.0 if width <= 1 else width + 1.0

    def observe(self, width: int, extra_tokens: int, seconds: float) -> None:
        pass


def test_under_contention_the_earliest_deadline_is_answered_first(engine):
    async def run():
        # Warm the four sessions so each keystroke's work is decoding only, and time a 16-token answer alone
        # so the step cost the deadlines are made from is this minute's.
        await asyncio.gather(*(ask(engine, p, session=f"edf-{i}", max_tokens=1) for i, p in enumerate(FILES)))
        await ask(engine, FILES[0] + "\n", session="edf-probe", max_tokens=16)
        # The planner expects answers of the median length seen (the warm-ups' single tokens among them);
        # these answers are up to 16 tokens, and it is told so, as serving a while would teach it.
        for _ in range(64):
            engine._loop.lengths.observe(16)
        learned = engine._loop.costs
        engine._loop.costs = SerialCosts(learned)
        try:
            # Deadlines in reverse order of arrival, each one far later than one at a time needs (the machine
            # may slow down many times over while the test runs and all stay feasible: at ten times, one CI
            # run saw the earliest answered after the next, made infeasible by a stall): a FIFO engine
            # answers 0, 1, 2, 3; a deadline-first one answers 3, 2, 1, 0.
            answer_s = 16 * engine._loop.costs.decode(1)
            asks = [ask(engine, p, session=f"edf-{i}", deadline_s=(4 - i) * 30 * answer_s, max_tokens=16)
                    for i, p in enumerate(FILES)]
            return await asyncio.gather(*asks)
        finally:
            engine._loop.costs = learned

    answers = asyncio.run(run())
    assert all(e is None and toks for toks, _, _, e in answers)
    ends = [end for _, _, end, _ in answers]
    assert ends[3] < ends[2] < ends[1] < ends[0]  # earliest deadline first


def test_a_live_server_drops_what_cannot_be_in_time_with_retry_after_and_serves_on(live_server):
    """Over HTTP, the real server and model: a completion that cannot be answered within its deadline_ms
    is a 503 `deadline_exceeded` in OpenAI's error shape, with Retry-After (a client told nothing asked
    again at once), and the next request is answered."""
    import httpx

    body = {"model": live_server.model, "prompt": FILES[0], "suffix": "\n", "max_tokens": 32, "temperature": 0}
    r = httpx.post(live_server.base_url + "/completions", json={**body, "deadline_ms": 1}, timeout=60)
    assert r.status_code == 503, r.text
    error = r.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("service_unavailable", "deadline_exceeded",
                                                              "deadline_ms")
    assert int(r.headers["Retry-After"]) >= 1
    # Streamed, the same response (a stream's status and headers wait for its first body), and the same
    # from the llama.cpp dialect's /infill in its own error shape.
    r = httpx.post(live_server.base_url + "/completions", json={**body, "deadline_ms": 1, "stream": True},
                   timeout=60)
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/json"), r.text
    assert r.json()["error"]["code"] == "deadline_exceeded" and int(r.headers["Retry-After"]) >= 1
    r = httpx.post(live_server.url + "/infill", timeout=60,
                   json={"input_prefix": FILES[0], "input_suffix": "\n", "stream": True, "deadline_ms": 1})
    assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1, r.text
    assert r.json()["error"]["type"] == "unavailable_error"
    assert httpx.post(live_server.base_url + "/completions", json=body, timeout=120).status_code == 200
