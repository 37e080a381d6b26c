"""Deadline scheduling in the llama.cpp engine: the cost model, the planner's rules, and the step
loop on a fake context (the real model's tests: tests/integration/test_deadlines.py)."""

import time

from codefill.server.engines.base import DeadlineMissed, GenerationRequest, GenerationResult
from codefill.server.engines.llama_cpp.costs import (DEFAULT_ANSWER_TOKENS, TENANTS_KEPT, AnswerLengths, StepCosts,
                                                    survival_median)
from codefill.server.engines.llama_cpp.deadlines import (CHUNK_S, SPARE_SHARE, STARVE_S, Work, chunk_seconds, feasible,
                                                         in_time_together, must_drop, plan)
from codefill.server.engines.llama_cpp.jobs import DONE, Job
from tests.unit.test_batching import ImmediateLoop, Sink, make_loop, run_until_done, tokens


def costs(step=0.02, per_token=0.004, **widths):
    c = StepCosts()
    c.seed(step, per_token)
    for w, s in widths.items():
        for _ in range(60):
            c.observe(int(w[1:]), 0, s)  # w2=0.03: a measured width
    return c


# -- the cost model ---------------------------------------------------------------

def test_step_costs_learn_decode_by_width_and_the_cost_of_extra_tokens():
    c = costs(0.02, 0.004)
    assert c.decode(1) == 0.02
    assert 0.02 < c.decode(4) < 4 * 0.02  # unmeasured: extrapolated, less than four steps of one
    for _ in range(50):
        c.observe(4, 0, 0.05)
    assert abs(c.decode(4) - 0.05) < 1e-3
    assert c.decode(6) > c.decode(4)  # extrapolated from the widest measured
    for _ in range(50):
        c.observe(1, 31, 0.02 + 31 * 0.003)  # a step of a 32-token prompt chunk alone
    assert abs(c.extra(1, 31) - 31 * 0.003) < 1e-3
    assert c.step(2, 10) == c.decode(2) + c.extra(2, 10)


def test_a_few_tokens_and_a_chunk_are_priced_each_as_measured():
    # A CPU: two tokens in a step cost far more each than a chunk's tokens (a matrix product instead of a
    # matrix-vector one). Draft steps of two tokens must not price prompt chunks at their rate.
    c = costs(0.02, 0.003)
    for _ in range(200):
        c.observe(1, 1, 0.02 + 0.012)  # a decoding sequence and one draft: 12 ms more
    assert abs(c.extra(1, 1) - 0.012) < 1e-3
    assert abs(c.extra(1, 95) - 95 * 0.003) < 0.02  # a chunk: still ~3 ms a token
    assert 0.002 < c.per_token < 0.0045
    # Chunks sized in time: 100 ms beside one decoding sequence is ~30 tokens, not 100 / 12.
    assert 25 <= c.room(1, 0.1, 512) <= 35
    assert c.room(1, 0.0, 512) == 1 and c.room(1, 100.0, 512) == 512


def test_the_probe_table_is_interpolated_and_a_chunk_beyond_it_is_priced_in_proportion():
    c = StepCosts()
    c.seed(0.01, 0.0, {1: 0.01, 2: 0.019, 8: 0.032, 64: 0.2})  # a step of one sequence by token count
    assert abs(c.step(1, 1) - 0.019) < 1e-9  # one decoding token and one more: the step of two tokens
    assert abs(c.step(1, 3) - (0.019 + (0.032 - 0.019) * 2 / 6)) < 1e-9  # four tokens: between 2 and 8
    assert abs(c.step(1, 63) - 0.2) < 1e-9
    assert abs(c.step(1, 127) - 0.4) < 1e-9  # twice the largest timed
    # A slower machine (the step of one measured again) slows every estimate, the table's shape kept.
    c.reseed(0.02)
    assert abs(c.step(1, 63) - 0.4) < 1e-9


def test_a_disturbed_step_of_one_does_not_make_prompt_chunks_free():
    # Seen in CI under the whole suite: the step of one timed at 3.5 s, steps of 2-64 tokens cheaper. At
    # that price the table was one step of one throughout: every chunk free (per_token 0).
    c = StepCosts()
    c.seed(3.5, 0.0, {1: 3.5, 2: 0.9, 4: 1.1, 8: 1.0, 16: 1.6, 32: 2.4, 64: 3.0})
    assert c.decode(1) == 0.9  # bounded by the cheapest step of more tokens
    assert c.per_token > 0 and c.extra(1, 63) > 0 and c.room(1, 0.5, 512) < 512


class ClockedContext:
    """A context whose steps advance a fake clock: a step of one token costs `ones.pop(0)` while the
    list lasts, then `one`; a step of n tokens `one + (n - 1) * per_token`."""

    def __init__(self, clock, ones, one=0.01, per_token=0.003):
        self.clock, self.ones, self.one, self.per_token, self.removed = clock, list(ones), one, per_token, []

    def decode(self, batch):
        n = len(batch)
        if n == 1:
            self.clock[0] += self.ones.pop(0) if self.ones else self.one
        else:
            self.clock[0] += self.one + (n - 1) * self.per_token
        return 0

    def remove(self, seq, start):
        self.removed.append((seq, start))


def test_the_probe_times_the_step_of_one_again_after_the_table(monkeypatch):
    from codefill.server.engines.llama_cpp import costs as costs_module

    clock = [0.0]
    monkeypatch.setattr(costs_module.time, "monotonic", lambda: clock[0])
    context = ClockedContext(clock, ones=[3.5, 3.4, 3.6])  # the first three steps of one disturbed
    c = StepCosts()
    costs_module.probe(context, c, token=7)
    assert abs(c.decode(1) - 0.01) < 1e-9  # the second chance, after the table
    assert abs(c.snapshot()["tokens_64"] - (0.01 + 63 * 0.003)) < 1e-5
    assert context.removed[-1] == (0, 0)  # and the probe's cells are gone


def test_one_slow_step_does_not_price_a_width_out_of_the_plans():
    # A width's first step is slow (ggml sizes its buffers for the new batch shape): it moves the
    # estimate a little, never above W steps of one, so the planner still tries the width and learns it.
    c = costs(0.01, 0.004)
    c.observe(2, 0, 0.035)
    assert c.decode(1) < c.decode(2) < 2 * c.decode(1)
    works = [Work("a", deadline=10.0, prefill=0, tokens=8), Work("b", deadline=10.0, prefill=0, tokens=8)]
    assert len(plan(works, 0.0, c, max_width=2)) == 2
    for _ in range(60):
        c.observe(2, 0, 0.015)
    assert abs(c.decode(2) - 0.015) < 1e-3
    # The machine slows (another process): a step of one is seen slower, and so is every width.
    for _ in range(60):
        c.observe(1, 0, 0.02)
    assert abs(c.decode(2) - 0.03) < 2e-3


def test_answer_lengths_are_the_median_of_recent_answers():
    lengths = AnswerLengths()
    for n in (3, 4, 30, 5, 4):
        lengths.observe(n)
    assert lengths.left(0, 32) == 4
    assert lengths.left(0, 2) == 2  # never more than max_tokens
    # Past the guess: the median of the answers at least as long (only the 30 here), not one more at a time.
    assert lengths.left(10, 32) == 20
    assert lengths.left(10, 16) == 6 and lengths.left(20, 21) == 1  # never past max_tokens
    assert lengths.left(30, 64) == 4  # longer than any seen: the usual length again
    fresh = AnswerLengths()  # a tenant with none seen: the default, then the default again past it
    assert fresh.left(3, 64) == DEFAULT_ANSWER_TOKENS - 3 and fresh.left(9, 64) == DEFAULT_ANSWER_TOKENS


def test_a_long_running_answers_guess_follows_the_long_tail():
    """Of answers censored and complete alike: the guess for one that has run past most of them is the
    median of those that ran at least as long."""
    lengths = AnswerLengths()
    for n in (4, 4, 5, 5, 6, 6, 7, 20, 24, 28):
        lengths.observe(n)
    for n in (12, 16):
        lengths.observe(n, complete=False)  # left by their typists' next words: at least that long
    assert lengths.left(0, 64) == 6
    assert lengths.left(8, 64) == 24 - 8  # of 12+, 16+, 20, 24, 28: half are done by 24
    assert survival_median([(n, True) for n in (4, 5, 20, 24, 28)], above=10) == 24
    assert survival_median([(4, True)], above=4) is None


def test_answers_left_while_decoding_count_as_at_least_as_long_as_they_got():
    # Open loop: the short answers finish, the long ones are left by the typist's next word. Counted
    # only where complete, the guess was the short ones' median.
    lengths = AnswerLengths()
    for n in (2, 3, 3, 4, 5, 7, 9):
        lengths.observe(n)
    for n in (6, 6, 6, 8):
        lengths.observe(n, complete=False)
    assert lengths.left(0, 32) == 7  # not 4 (the median of the complete ones)
    for _ in range(10):
        lengths.observe(0, complete=False)  # left before its first token: says nothing
    assert lengths.left(0, 32) == 7
    lengths = AnswerLengths()
    for n in (4, 12, 20):
        lengths.observe(n, complete=False)
    assert lengths.left(0, 32) == 20  # none complete: at least the longest seen
    assert survival_median([(3, True), (4, True), (30, True), (5, True), (4, True)]) == 4  # all complete


def test_each_tenant_has_its_own_answer_length_guess():
    """One key's long answers never lengthen the guess for another's requests (which would reorder and
    drop them); a tenant with no answers yet gets the default, not the others' median."""
    lengths = AnswerLengths()
    for _ in range(64):
        lengths.observe(32, tenant="flood")
    for n in (3, 4, 5, 4):
        lengths.observe(n, tenant="alice")
    assert lengths.left(0, 64, "flood") == 32
    assert lengths.left(0, 64, "alice") == 4
    assert lengths.left(0, 64, "new") == DEFAULT_ANSWER_TOKENS
    for i in range(TENANTS_KEPT):  # the least recently seen is forgotten first
        lengths.observe(2, tenant=f"t{i}")
    assert lengths.left(0, 64, "flood") == DEFAULT_ANSWER_TOKENS and lengths.left(0, 64, f"t{i}") == 2


# -- the planner ------------------------------------------------------------------

def test_tight_deadlines_run_one_at_a_time_and_loose_ones_side_by_side():
    c = costs(0.02, 0.004, w2=0.036)
    tight = [Work(i, deadline=0.25, prefill=0, tokens=10) for i in range(2)]
    # Together both take 10 x 36 ms = 360 ms: both late. One at a time the first is in time at 200 ms.
    assert [w.handle for w in plan(tight, 0.0, c, max_width=2)] == [0]
    loose = [Work(i, deadline=2.0, prefill=0, tokens=10) for i in range(2)]
    # Both in time either way: side by side finishes both sooner (360 ms against 400 ms).
    assert len(plan(loose, 0.0, c, max_width=2)) == 2


def test_earliest_deadline_first_and_infeasible_ones_after_every_feasible_one():
    c = costs(0.02, 0.004)
    late = Work("late", deadline=0.05, prefill=0, tokens=10)  # 200 ms of work, 50 ms left: cannot make it
    soon = Work("soon", deadline=0.3, prefill=0, tokens=5)
    later = Work("later", deadline=0.6, prefill=0, tokens=5)
    assert not feasible(late, 0.0, c) and feasible(soon, 0.0, c)
    assert plan([later, late, soon], 0.0, c, max_width=1)[0].handle == "soon"


def test_a_long_prompt_feasible_alone_does_not_make_three_short_keystrokes_late():
    # Linear costs: 20 ms a step, 4 ms a further token. The cold prompt (200 tokens, ~0.8 s) has the
    # earliest deadline and can make it alone; but run first it makes the three keystrokes behind it late
    # (each ~60 ms of work, due within 0.9 s). Earliest deadline first answers one of four in time;
    # leaving the long one out answers three.
    c = costs(0.02, 0.004)
    cold = Work("cold", deadline=0.85, prefill=200, tokens=2)
    keys = [Work(f"k{i}", deadline=0.86 + 0.01 * i, prefill=3, tokens=2) for i in range(3)]
    assert all(feasible(w, 0.0, c) for w in [cold, *keys])
    assert in_time_together([cold, *keys], 0.0, c) == {id(k) for k in keys}
    first = plan([cold, *keys], 0.0, c, max_width=1)
    assert first[0].handle == "k0"
    # With time for all, nothing is left out, and the earliest deadline goes first.
    roomy = [Work("cold", deadline=2.0, prefill=200, tokens=2), *(Work(f"k{i}", 2.1, 3, 2) for i in range(3))]
    assert len(in_time_together(roomy, 0.0, c)) == 4
    assert plan(roomy, 0.0, c, max_width=1)[0].handle == "cold"


def test_late_requests_do_not_widen_a_batch_of_timely_ones():
    # Side by side costs little more than alone here, so a batch of all three finishes them all
    # soonest; but the late one's answer is thrown away when it comes: only the timely ones run.
    c = costs(0.02, 0.004, w2=0.022, w3=0.024)
    timely = [Work(f"t{k}", deadline=0.5, prefill=0, tokens=4, waited_since=0.0) for k in range(2)]
    late = Work("late", deadline=0.01, prefill=0, tokens=4, waited_since=0.0)
    assert {w.handle for w in plan([late, *timely], 0.0, c, max_width=3)} == {"t0", "t1"}
    # A soft deadline long past with no newer keystroke: the typist paused and waits; it joins them.
    paused = Work("paused", deadline=-1.0, prefill=0, tokens=4, waited_since=0.0)
    assert {w.handle for w in plan([paused, *timely], 0.0, c, max_width=3)} == {"t0", "t1", "paused"}
    # With none in time, the late ones run side by side (the engine has nothing better to do).
    assert len(plan([late, Work("late2", deadline=0.01, prefill=0, tokens=4)], 0.0, c, max_width=3)) == 2


def test_only_hard_deadlines_are_dropped():
    c = costs(0.02, 0.004)
    soft = Work("soft", deadline=0.01, prefill=100, tokens=5)
    hard = Work("hard", deadline=0.01, prefill=100, tokens=5, hard=True)
    assert not must_drop(soft, 0.0, c)
    assert must_drop(hard, 0.0, c)
    assert not must_drop(Work("ok", deadline=5.0, prefill=100, tokens=5, hard=True), 0.0, c)


def test_a_request_left_out_too_long_joins_the_step():
    c = costs(0.02, 0.004)
    urgent = Work("urgent", deadline=0.25, prefill=0, tokens=10)
    starved = Work("starved", deadline=0.26, prefill=0, tokens=10, waited_since=-STARVE_S)
    chosen = [w.handle for w in plan([urgent, starved], 0.0, c, max_width=1)]
    assert chosen == ["urgent", "starved"]


def test_prompt_chunks_beside_decoding_requests_take_what_their_deadlines_spare():
    c = costs(0.02, 0.004)
    decoders = [Work("d", deadline=0.5, prefill=0, tokens=5)]  # needs 100 ms: 400 ms to spare, by the guess
    assert abs(chunk_seconds(decoders, 0.0, c) - SPARE_SHARE * 0.4) < 1e-9  # a share: the answer may run longer
    tight = [Work("d", deadline=0.11, prefill=0, tokens=5)]
    assert chunk_seconds(tight, 0.0, c) == CHUNK_S  # at least CHUNK_S: prompts always move
    late = [Work("d", deadline=0.05, prefill=0, tokens=5)]
    assert chunk_seconds(late, 0.0, c) is None  # nobody to keep in time: no limit


# -- the step loop ----------------------------------------------------------------

def submit(loop, prompt, *, max_tokens=3, deadline=None, hard=False, session=None):
    req = GenerationRequest(list(prompt), max_tokens, session=session, deadline=deadline, deadline_hard=hard)
    job = Job(req, GenerationResult(), ImmediateLoop(), Sink())
    loop.waiting.append(job)
    return job


def test_a_hard_deadline_that_cannot_be_met_is_dropped_before_it_costs_anything_and_counted():
    loop, ctx = make_loop(n_seq=2, step_tokens=16)
    loop.costs.seed(0.02, 0.004)
    hopeless = submit(loop, range(1, 200), deadline=time.monotonic() + 0.05, hard=True, session="a")
    fine = submit(loop, range(210, 220), deadline=time.monotonic() + 30, hard=True, session="b")
    run_until_done(loop, [hopeless, fine])
    assert isinstance(hopeless.out.items[0], DeadlineMissed) and hopeless.out.items[-1] is DONE
    assert hopeless.result.finish_reason == "deadline"
    assert loop.stats.counters["deadline_dropped"] == 1
    assert sum(len(step) for step in ctx.steps) == 10 + 2  # fine's prompt and two decode steps: none of its 199
    assert len(tokens(fine)) == 3


def test_costs_measured_too_high_are_measured_again_once_requests_were_dropped():
    # Measured while another process computed: every hard deadline looks infeasible and is dropped, so no
    # step would ever correct the costs. Idle after a drop, the loop measures again (the engine's probe).
    loop, _ = make_loop(n_seq=2, step_tokens=16)
    loop.costs.seed(3.0, 0.5)
    measured = []
    loop.measure = lambda: (measured.append(1), loop.costs.seed(0.02, 0.004))
    first = submit(loop, range(1, 20), deadline=time.monotonic() + 1.0, hard=True, session="a")
    loop.step()
    assert isinstance(first.out.items[0], DeadlineMissed)
    loop.jobs.put(None)  # so that the idle wait ends
    assert not loop._take_jobs() and measured == [1]  # idle: measured once, not again until the next drop
    loop.jobs.put(None)
    assert not loop._take_jobs() and measured == [1]
    second = submit(loop, range(1, 20), deadline=time.monotonic() + 1.0, hard=True, session="a")
    run_until_done(loop, [second])
    assert len(tokens(second)) == 3 and loop.stats.counters["deadline_dropped"] == 1


def test_a_soft_deadline_that_cannot_be_met_is_still_answered():
    loop, _ = make_loop(n_seq=2, step_tokens=16)
    loop.costs.seed(0.02, 0.004)
    late = submit(loop, range(1, 100), deadline=time.monotonic() + 0.01, session="a")
    run_until_done(loop, [late])
    assert len(tokens(late)) == 3 and loop.stats.counters["deadline_dropped"] == 0


def test_requests_get_a_sequence_earliest_deadline_first():
    loop, ctx = make_loop(n_seq=1, step_tokens=16)
    now = time.monotonic()
    jobs = {name: submit(loop, range(base, base + 5), max_tokens=1, deadline=now + d, session=name)
            for name, base, d in (("late", 100, 20.0), ("later", 150, 30.0), ("first", 200, 10.0))}
    run_until_done(loop, list(jobs.values()))
    prompts = [step[0][2] // 50 for step in ctx.steps if len(step) == 5]  # the steps that read a prompt
    assert prompts == [4, 2, 3]  # 200s first, then 100s, then 150s


def test_an_answer_a_filter_completed_teaches_the_engine_its_length():
    loop, _ = make_loop(n_seq=1, step_tokens=16)
    job = submit(loop, range(1, 6), max_tokens=20, session="a")
    for _ in range(4):
        loop.step()
    job.result.finish_reason = "stop"  # as the service marks an answer its filters completed
    job.cancelled.set()
    loop.step()
    assert job.result.finish_reason == "stop"
    assert loop.lengths.left(0, 32) == job.result.completion_tokens


def test_a_prompt_at_its_last_token_batches_like_a_decoding_sequence():
    # Its last prompt token is the pass that gives its first answer token: priced as a decoding sequence
    # beside the others, as when run alone, not as an extra prompt token on top (measured on the engine:
    # n=4 choices were decoded two at a time while the fourth's last prompt token waited).
    c = costs(0.005, 0.0086)
    works = [Work("a", deadline=1.0, prefill=0, tokens=1), Work("b", deadline=1.0, prefill=0, tokens=1),
             Work("c", deadline=1.0, prefill=1, tokens=2)]
    assert len(plan(works, 0.0, c, max_width=3)) == 3
