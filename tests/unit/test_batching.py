"""The llama.cpp engine's scheduling rules, on a fake context (the real model's tests are in
tests/integration/test_batching.py): slots, shared heads, salts, budgets, chunked prefill."""

import time

import numpy as np
import pytest

from codefill.server.engines.base import GenerationRequest, GenerationResult
from codefill.server.engines.llama_cpp import check_settings
from codefill.server.engines.llama_cpp import deadlines
from codefill.server.engines.llama_cpp.decoding import Decoder
from codefill.server.engines.llama_cpp.scheduler import DONE, Job, StepLoop
from codefill.server.engines.llama_cpp.shares import shares
from codefill.server.engines.llama_cpp.slots import Slots
from codefill.server.engines.llama_cpp.states import _SavedSession, _SessionStates
from codefill.server.engines.llama_cpp.stats import EngineStats

VOCAB = 50


class FakeContext:
    """Every sequence's next token is its last token + 1; records what each step evaluated."""

    def __init__(self) -> None:
        self.cells: dict[int, list[int]] = {}
        self.steps: list[list[tuple[int, int, int, bool]]] = []
        self.copies: list[tuple[int, int, int]] = []
        self._rows: list[int] = []

    def decode(self, entries):
        self.steps.append(entries)
        for seq, pos, token, _ in entries:
            cells = self.cells.setdefault(seq, [])
            assert pos == len(cells), f"sequence {seq}: position {pos} after {len(cells)} cells"
            cells.append(token)
        self._rows = [t for _, _, t, _ in entries]
        return 0

    def logits(self, i):
        row = np.zeros(VOCAB, dtype=np.float32)
        row[(self._rows[i] + 1) % VOCAB] = 1.0
        return row

    def remove(self, seq, start):
        del self.cells.setdefault(seq, [])[start:]

    def copy(self, src, dst, n):
        self.copies.append((src, dst, n))
        self.cells[dst] = list(self.cells[src][:n])

    def save(self, seq, tokens):
        return _SavedSession(list(tokens), np.array(self.cells[seq], dtype=np.uint8))

    def restore(self, seq, saved):
        self.cells[seq] = [int(x) for x in saved.kv]
        return True


def make_loop(n_seq=4, step_tokens=16, draft_max=0):
    ctx = FakeContext()
    stats = EngineStats()
    slots = Slots(n_seq, ctx, _SessionStates(1 << 20), stats.counters)

    def decoder(req, result, prompt):
        return Decoder(req, result, prompt, healer=None, stop_ids=frozenset(), is_eog=lambda t: False,
                       piece=lambda t: b"x", top_text=str, draft_max=draft_max, draft_ngram_min=3)

    loop = StepLoop(ctx, slots, n_ctx=500, step_tokens=step_tokens, cold_saving=8, new_decoder=decoder, stats=stats)
    return loop, ctx


class Sink:
    def __init__(self):
        self.items = []

    def put_nowait(self, item):
        self.items.append(item)


class ImmediateLoop:
    def call_soon_threadsafe(self, fn, item):
        fn(item)


def submit(loop, prompt, max_tokens=3, session=None, salt=None, tenant=None, weight=1.0):
    job = Job(GenerationRequest(list(prompt), max_tokens, session=session, cache_salt=salt, tenant=tenant,
                                weight=weight), GenerationResult(), ImmediateLoop(), Sink())
    loop.waiting.append(job)
    return job


def run_until_done(loop, jobs, limit=200):
    for _ in range(limit):
        if all(DONE in j.out.items for j in jobs):
            return
        loop.step()
    raise AssertionError("jobs did not finish")


def tokens(job):
    return [t.token_id for t in job.out.items if t is not DONE]


def test_sequences_decode_together_in_one_step_and_prefill_is_chunked_after_them():
    loop, ctx = make_loop(step_tokens=8)
    a = submit(loop, [1, 2, 3], max_tokens=5)
    loop.step()  # a's prompt
    b = submit(loop, list(range(10, 30)), max_tokens=2)
    loop.step()
    # Decode first: a's next token, then 7 of b's 20 prompt tokens (the rest of the budget).
    step = ctx.steps[-1]
    assert step[0][0] != step[1][0] and len(step) == 8
    run_until_done(loop, [a, b])
    assert tokens(a) == [4, 5, 6, 7, 8]
    assert tokens(b) == [30, 31]
    assert max(len(s) for s in ctx.steps) <= 8


def test_a_cancelled_request_frees_its_sequence_at_the_next_step():
    loop, ctx = make_loop(n_seq=1)
    a = submit(loop, [1, 2], max_tokens=100)
    loop.step()
    loop.step()
    b = submit(loop, [5, 6], max_tokens=1)
    loop.step()
    assert not b.out.items  # the only sequence is busy
    a.cancelled.set()
    loop.step()
    assert a.result.finish_reason == "cancelled" and DONE in a.out.items
    assert tokens(b) == [7]


def test_a_session_keeps_its_cells_and_an_evicted_one_comes_back_from_ram():
    loop, ctx = make_loop(n_seq=1)
    run_until_done(loop, [submit(loop, list(range(1, 21)), 1, session="s1")])
    run_until_done(loop, [submit(loop, [40, 41, 42], 1, session="s2")])  # s1 goes to RAM
    assert loop.stats.counters["evicted_to_ram"] == 1
    again = submit(loop, list(range(1, 22)), 1, session="s1")
    run_until_done(loop, [again])
    assert loop.stats.counters["restored_from_ram"] == 1
    assert again.result.cached_prompt_tokens == 20


def test_a_keystroke_that_types_what_the_last_answer_began_with_drafts_the_rest_of_it():
    loop, ctx = make_loop(draft_max=4)
    run_until_done(loop, [submit(loop, [1, 2, 3], 6, session="s1")])  # answers 4..9; the slot holds 1..8
    typed = submit(loop, [1, 2, 3, 4, 5], 4, session="s1")  # the user typed the answer's first two tokens
    before = len(ctx.steps)
    run_until_done(loop, [typed])
    assert loop.stats.counters["forecasts"] == 1
    assert tokens(typed) == [6, 7, 8, 9]  # the same answer as decoding one token at a time
    # One step, not four: the prompt's last token (5) with the drafts 6, 7, 8 gives 6, 7, 8 and 9.
    assert loop.stats.counters["forecast_accepted"] == loop.stats.counters["forecast_drafted"] == 3
    assert typed.result.draft_tokens == 0  # the request's own count is prompt lookup's (speculative decoding)
    assert len(ctx.steps) - before == 1
    # Another session, or the same session name under another salt (tenant), drafts nothing from it.
    other = submit(loop, [1, 2, 3, 4, 5, 6], 2, session="s2")
    salted = submit(loop, [1, 2, 3, 4, 5, 6], 2, session="s1", salt="other tenant")
    run_until_done(loop, [other, salted])
    assert loop.stats.counters["forecasts"] == 1 and loop.stats.counters["forecast_drafted"] == 3


def test_a_healed_first_token_is_not_drafted_from_the_forecast_and_a_wrong_forecast_is_dropped():
    def decoder(heal=""):
        req = GenerationRequest([1, 2, 3], 8, heal=heal)
        d = Decoder(req, GenerationResult(), [1, 2, 3], healer=None, stop_ids=frozenset(), is_eog=lambda t: False,
                    piece=lambda t: b"x", top_text=str, draft_max=0, draft_ngram_min=3)
        d.foresee([4, 5, 6])
        return d

    assert decoder().first_drafts(16) == [4, 5, 6]
    assert decoder().first_drafts(2) == [4, 5]
    healed = decoder(heal="x")  # the model picks among tokens that begin with "x": 4 may not be its pick
    assert healed.first_drafts(16) == []
    healed.accept(4)  # ... but when it is, the rest of the forecast follows it
    assert healed.drafts(16) == [5, 6]
    wrong = decoder()
    wrong.accept(9)  # the answer left the forecast: no more drafts from it
    assert wrong.drafts(16) == []


def test_a_head_is_shared_within_a_salt_and_never_across_salts():
    loop, ctx = make_loop()
    head = list(range(1, 40))
    run_until_done(loop, [submit(loop, head + [45], 1, session="a", salt="t1")])
    same = submit(loop, head + [46], 1, session="b", salt="t1")
    other = submit(loop, head + [46], 1, session="c", salt="t2")
    run_until_done(loop, [same, other])
    assert same.result.cached_prompt_tokens == len(head)
    assert other.result.cached_prompt_tokens == 0
    assert loop.stats.counters["shared_prefix_tokens"] == len(head)
    assert len(ctx.copies) == 1


def test_more_requests_than_sequences_wait_their_turn():
    loop, ctx = make_loop(n_seq=2)
    jobs = [submit(loop, [i * 5 + 1, i * 5 + 2], 3, session=f"s{i}") for i in range(5)]
    run_until_done(loop, jobs)
    assert all(len(tokens(j)) == 3 for j in jobs)
    assert max(len({e[0] for e in s}) for s in ctx.steps) == 2


def test_a_cold_window_grows_only_when_nothing_interactive_is_left():
    loop, ctx = make_loop(step_tokens=16)
    full = list(range(1, 41))
    cold = list(range(30, 41))
    job = Job(GenerationRequest(full, 2, session="s", cold_tokens=cold), GenerationResult(), ImmediateLoop(), Sink())
    loop.waiting.append(job)
    run_until_done(loop, [job])
    assert job.result.cold_window and loop.growth is not None
    for _ in range(10):
        loop.step()
    assert loop.growth is None and loop.stats.counters["windows_grown"] == 1
    again = Job(GenerationRequest(full + [41], 1, session="s", cold_tokens=cold + [41]), GenerationResult(),
                ImmediateLoop(), Sink())
    loop.waiting.append(again)
    run_until_done(loop, [again])
    assert not again.result.cold_window and again.result.cached_prompt_tokens == len(full)


def test_the_kept_window_is_taken_where_the_cache_holds_more_of_it_than_of_the_new_one():
    """A session's next keystroke brings a cold window that starts elsewhere (the target changed with the
    typists) and its last window grown to the cursor (kept): the engine evaluates the one its cache holds
    more of, and says which."""
    loop, ctx = make_loop(step_tokens=16)
    full = list(range(1, 101))
    first = Job(GenerationRequest(full, 1, session="s", cold_tokens=list(range(50, 101))), GenerationResult(),
                ImmediateLoop(), Sink())
    loop.waiting.append(first)
    run_until_done(loop, [first])
    assert first.result.cold_window and not first.result.cold_kept
    evaluated = sum(len(step) for step in ctx.steps)
    # The next keystroke at once: a shorter window starting elsewhere, and the kept one, 51 tokens cached.
    nxt = Job(GenerationRequest(full + [101], 1, session="s", cold_tokens=list(range(70, 102)),
                                kept_tokens=list(range(50, 102))), GenerationResult(), ImmediateLoop(), Sink())
    loop.waiting.append(nxt)
    run_until_done(loop, [nxt])
    assert nxt.result.cold_window and nxt.result.cold_kept
    assert nxt.result.cached_prompt_tokens == 51 and nxt.result.prompt_tokens == 52
    assert sum(len(step) for step in ctx.steps) - evaluated == 1  # the new token (and the answer's)
    # Nothing cached of either (another session): this keystroke's own, the shorter, is evaluated.
    other = Job(GenerationRequest(list(range(201, 301)), 1, session="t", cold_tokens=list(range(270, 301)),
                                  kept_tokens=list(range(250, 301))), GenerationResult(), ImmediateLoop(), Sink())
    loop.waiting.append(other)
    run_until_done(loop, [other])
    assert other.result.cold_window and not other.result.cold_kept and other.result.prompt_tokens == 31


def test_a_cold_window_still_being_read_moves_to_the_smallest_once_another_session_shares_the_engine():
    """The first of several typists arrives at an idle engine with a window sized for one (rendered before
    the others came): once another session's request is in the engine, it evaluates its smallest window
    instead of the rest of the longer one, and a request placed beside another session's takes the smallest
    from the start. A session's own next keystroke does not count as another."""
    loop, ctx = make_loop(step_tokens=16)
    full = list(range(1, 301))
    a = Job(GenerationRequest(full, 1, session="a", cold_tokens=list(range(181, 301)),
                              small_tokens=list(range(261, 301))), GenerationResult(), ImmediateLoop(), Sink())
    loop.waiting.append(a)
    loop.step()
    assert not a.result.cold_small and a.result.prompt_tokens == 120  # alone: its own window, 16 tokens read
    seq = loop.running[0].slot.seq
    loop.step()
    assert not a.result.cold_small  # still alone after a second step: nothing to share
    b = Job(GenerationRequest(list(range(401, 501)), 1, session="b", cold_tokens=list(range(471, 501)),
                              small_tokens=list(range(481, 501))), GenerationResult(), ImmediateLoop(), Sink())
    loop.waiting.append(b)
    loop.step()
    assert a.result.cold_small and a.result.cold_window and a.result.prompt_tokens == 40
    assert a.result.cached_prompt_tokens == 0 and loop.stats.counters["cold_shrunk"] == 1
    assert b.result.cold_small and b.result.prompt_tokens == 20  # placed beside a: the smallest at once
    run_until_done(loop, [a, b])
    assert ctx.cells[seq][:40] == list(range(261, 301))  # the small window, from its start
    assert loop.stats.counters["cold_shrunk"] == 1

    # One session's two keystrokes share nothing with anyone: the second keeps its own longer window.
    loop, ctx = make_loop(step_tokens=16)
    first = Job(GenerationRequest(full, 1, session="a", cold_tokens=list(range(181, 301)),
                                  small_tokens=list(range(261, 301))), GenerationResult(), ImmediateLoop(), Sink())
    again = Job(GenerationRequest(full + [301], 1, session="a", cold_tokens=list(range(181, 302)),
                                  small_tokens=list(range(262, 302))), GenerationResult(), ImmediateLoop(), Sink())
    loop.waiting.append(first)
    loop.step()
    loop.waiting.append(again)
    first.cancelled.set()
    run_until_done(loop, [again])
    assert not again.result.cold_small and again.result.cold_window and again.result.prompt_tokens == 121
    assert loop.stats.counters["cold_shrunk"] == 0


def test_a_cold_window_grows_only_after_a_pause_without_requests():
    import time

    loop, ctx = make_loop(step_tokens=16)
    loop.grow_after = 0.3
    full = list(range(1, 41))
    job = Job(GenerationRequest(full, 2, session="s", cold_tokens=list(range(30, 41))), GenerationResult(),
              ImmediateLoop(), Sink())
    loop.waiting.append(job)
    run_until_done(loop, [job])
    steps = len(ctx.steps)
    for _ in range(5):  # right after the answer: the next keystroke may be on its way
        loop.step()
    assert len(ctx.steps) == steps and loop.growth is not None
    started = time.monotonic()
    assert loop._take_jobs()  # waits until the growth is due, not longer
    assert 0.2 <= time.monotonic() - started < 2
    for _ in range(10):
        loop.step()
    assert loop.growth is None and loop.stats.counters["windows_grown"] == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"sequences": 0}, "between 1 and 256"),
    ({"sequences": 300}, "between 1 and 256"),
    ({"sequences": 8, "step_tokens": 4}, "every generating sequence needs one token"),
    ({"step_tokens": 512, "n_batch": 256}, "more than --n-batch"),
])
def test_bad_settings_are_refused_with_a_reason(kwargs, message):
    settings = {"n_ctx": 2048, "sequences": 8, "step_tokens": 128, "n_batch": 256, **kwargs}
    with pytest.raises(ValueError, match=message):
        check_settings(**settings)


def test_requests_join_between_steps_without_waiting_for_others_to_finish():
    loop, ctx = make_loop()
    long = submit(loop, [1], max_tokens=40)
    for _ in range(3):
        loop.step()
    short = submit(loop, [20], max_tokens=2)
    for _ in range(3):
        loop.step()
    assert DONE in short.out.items and DONE not in long.out.items


def test_requests_admitted_together_compute_a_shared_head_once():
    loop, ctx = make_loop(step_tokens=32)
    head = list(range(1, 101))
    first = submit(loop, head + [1], 1, salt="t")
    second = submit(loop, head + [2], 1, salt="t")
    stranger = submit(loop, head + [3], 1, salt="u")
    run_until_done(loop, [first, second, stranger])
    assert second.result.cached_prompt_tokens == len(head)
    assert stranger.result.cached_prompt_tokens == 0
    evaluated = sum(len(s) for s in ctx.steps)
    # The head twice (salts t and u), not three times; plus the last tokens.
    assert evaluated <= 2 * len(head) + 3


def test_a_failed_step_fails_its_requests_and_the_engine_keeps_serving():
    loop, ctx = make_loop()
    broken = submit(loop, [1, 2, 3], 3)
    real_decode = ctx.decode
    ctx.decode = lambda entries: 1  # llama.cpp found no room
    loop.safe_step()
    ctx.decode = real_decode
    assert isinstance(broken.out.items[0], RuntimeError) and DONE in broken.out.items
    assert not loop.slots.busy()
    after = submit(loop, [5, 6], 2)
    run_until_done(loop, [after])
    assert tokens(after) == [7, 8]


# --- tenants share a step (shares.py) -------------------------------------------------

def test_a_tenant_alone_takes_the_whole_budget():
    assert shares({"a": 300}, 128) == {"a": 128}
    assert shares({"a": 40}, 128) == {"a": 40}


def test_the_busiest_tenant_gets_no_more_than_the_next_busiest_asks_for():
    # A typist's token and 4-token draft beside a flood: the flood gets 5 too, not the other 123.
    assert shares({"flood": 300, "typist": 5}, 128) == {"flood": 5, "typist": 5}
    # Two floods split the budget evenly; a typist beside them keeps its 5.
    assert shares({"a": 300, "b": 300, "typist": 5}, 128) == {"a": 61, "b": 61, "typist": 5}
    # Weights scale the share: a weight of 3 gets three times the next-busiest's demand per weight.
    assert shares({"team": 300, "solo": 4}, 128, weights={"team": 3.0}) == {"team": 12, "solo": 4}
    # Everyone with work gets a token, however small its weight.
    assert shares({"a": 300, "b": 300}, 128, weights={"b": 0.001})["b"] == 1


def test_a_tenant_between_keystrokes_still_caps_the_others():
    assert shares({"flood": 300}, 128, present={"typist": 3}) == {"flood": 3}
    assert shares({"flood": 300}, 128, present={"flood": 3}) == {"flood": 128}


def test_a_flood_beside_a_typist_keeps_the_typists_steps_small():
    loop, ctx = make_loop(n_seq=6, step_tokens=64)
    flood = [submit(loop, list(range(100 + 40 * i, 140 + 40 * i)), max_tokens=20, session=f"f{i}", tenant="a")
             for i in range(4)]
    loop.step()  # the flood alone: its prompts fill the whole budget
    assert len(ctx.steps[-1]) == 64
    typist = submit(loop, [1, 2, 3], max_tokens=4, session="t", tenant="b")
    run_until_done(loop, [typist])
    assert tokens(typist) == [4, 5, 6, 7]
    # From the typist's first step on, each step holds its 1 token (or its 3-token prompt) and as
    # many of the flood's: never the flood's full budget.
    first = next(i for i, step in enumerate(ctx.steps) if any(e[2] == 1 for e in step))
    typist_steps = ctx.steps[first:]
    assert len(typist_steps[0]) == 6  # its prompt (3) and 3 of the flood's tokens
    assert all(len(step) <= 2 for step in typist_steps[1:])
    # The flood's four generating sequences take turns in its one token a step, none starved.
    run_until_done(loop, flood, limit=2000)
    assert all(len(tokens(j)) == 20 for j in flood)
    # With the typist gone (a moment later), the flood has the budget back.
    loop.shares.recent.clear()
    more = submit(loop, list(range(400, 460)), max_tokens=1, session="f9", tenant="a")
    loop.step()
    assert len(ctx.steps[-1]) == 60
    run_until_done(loop, [more])


def test_each_tenant_teaches_the_planner_its_own_answer_lengths():
    """The answers a tenant finishes set the length the planner expects of that tenant's requests only."""
    loop, _ = make_loop()
    long = [submit(loop, [1, 2, 3], max_tokens=12, session=f"f{i}", tenant="flood") for i in range(3)]
    run_until_done(loop, long)
    short = [submit(loop, [4, 5, 6], max_tokens=2, session=f"a{i}", tenant="alice") for i in range(3)]
    run_until_done(loop, short)
    assert loop.lengths.left(0, 32, "flood") == 12 and loop.lengths.left(0, 32, "alice") == 2
    job = submit(loop, [7, 8, 9], max_tokens=32, session="a9", tenant="alice")
    loop.step()
    (running,) = [r for r in loop.running if r.job is job]
    generated = job.result.completion_tokens
    assert running.work(loop.lengths).tokens == max(1, 2 - generated)  # alice's guess, not the flood's 12


def test_a_session_whose_keystrokes_are_given_up_unserved_passes_its_wait_on():
    """STARVE_S counts per editor: a typist whose every keystroke is superseded before it gets a step would
    otherwise wait for ever, each new request starting the clock again. Keyed by tenant, salt and session:
    another tenant's session of the same name inherits nothing, and an answered request passes nothing on."""
    loop, _ = make_loop(step_tokens=4)
    first = submit(loop, list(range(1, 21)), max_tokens=8, session="s", tenant="alice")
    loop.step()  # 4 of its 20 prompt tokens
    (running,) = loop.running
    t0 = time.monotonic() - 0.1
    running.served_at = t0  # when it was last advanced
    first.cancelled.set()  # the next keystroke came first
    loop.step()
    assert first.result.finish_reason == "cancelled" and first.result.completion_tokens == 0
    alice = submit(loop, [1, 2, 3, 4], session="s", tenant="alice")
    bob = submit(loop, [1, 2, 3, 4], session="s", tenant="bob")
    assert loop._waited_since(bob, t0 + 0.2) == t0 + 0.2  # another tenant's session of that name: its own clock
    assert loop._waited_since(alice, t0 + 0.2) == t0  # alice's next keystroke has waited since then
    assert loop._waited_since(alice, t0 + 0.3) == t0 + 0.3  # passed on once
    loop.waiting.clear()
    loop._unserved(running, t0)
    answered = submit(loop, [7, 8], max_tokens=1, session="s", tenant="alice")
    run_until_done(loop, [answered])  # placed (taking the wait), answered: passes nothing on
    assert loop._waited_since(alice, t0 + 0.5) == t0 + 0.5
    loop._unserved(running, t0)
    assert loop._waited_since(alice, t0 + deadlines.STARVE_CHAIN_S + 1) > t0  # a pause: a fresh start
    # The planner runs a request whose session has waited STARVE_S, whatever its deadline.
    late = deadlines.Work("late", deadline=0.0, prefill=300, tokens=8, waited_since=t0)
    timely = deadlines.Work("timely", deadline=t0 + 0.9, prefill=1, tokens=2, waited_since=t0 + 0.5)
    assert [w.handle for w in deadlines.plan([late, timely], t0 + deadlines.STARVE_S, loop.costs, 2)] == [
        "timely", "late"]
