"""The replay's ceiling (codefill/bench/ceiling.py): the simulation on hand-made schedules whose answer is known,
and the schedule built from a workload the way the replay types it. The measured costs and the real tokenizer
are covered by tests/bench/test_replay.py."""

from codefill.bench.ceiling import Costs, Job, new_prompt_text, ratio, schedule, share, simulate
from codefill.bench.replay import format_table
from codefill.bench.step_costs import add_ceilings
from codefill.bench.workload import Keystroke, Place

FAST_PROMPT = 100_000.0  # prompt tokens per second: prefill is negligible unless a test says otherwise


def words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def job(typist: int, arrival: float, deadline: float, answer: int, prompt: int = 1, waited: bool = False) -> Job:
    return Job(typist, arrival, deadline, prompt, answer, waited)


def typed_line(place: str, line: str, before: str = "x = 1\n") -> Place:
    """One line typed word by word, as workload.py makes keystrokes."""
    cuts = [i for i in range(len(line)) if i == 0 or (line[i - 1] == " " and line[i] != " ")]
    return Place(place, [Keystroke(place, before + line[:c], "\nrest\n", line[c:]) for c in cuts])


def test_one_typist_with_ample_time_is_answered_in_full():
    workload = [typed_line("a.py:1", "total = compute(first, second) + third")]
    jobs = schedule(workload, typists=1, interval=1.0, count_tokens=words)
    assert len(jobs) == 6
    assert share(jobs, Costs(FAST_PROMPT, (0.01,))) == 1.0


def test_two_typists_whose_deadlines_collide_get_half():
    # Each answer takes 0.2 s alone, so only one of each simultaneous pair fits in 0.25 s; side by side
    # (width 2 costs twice width 1) both would miss.
    jobs = [job(t, k * 0.25, (k + 1) * 0.25, answer=10) for k in range(4) for t in (0, 1)]
    costs = Costs(FAST_PROMPT, (0.02, 0.04))
    assert simulate(jobs, costs) == 4
    assert share(jobs, costs) == 0.5


def test_a_long_prompt_does_not_make_short_keystrokes_late():
    # One at a time only. The cold prompt (50 tokens, 138 ms in all) is due first and can make it alone,
    # but by deadline alone it goes first and the keystrokes behind it (44 ms each) miss two of three
    # deadlines: two answered. Leaving the long one out (Moore and Hodgson) answers the three, the cold
    # prompt's tokens evaluated beside them as far as their deadlines spare. The ceiling takes the better.
    def jobs():
        return [job(0, 0.0, 0.14, answer=2, prompt=50),
                *(job(t, 0.0, 0.12 + 0.04 * t, answer=2, prompt=3) for t in (1, 2, 3))]

    costs = Costs(500.0, (0.02,))
    assert simulate(jobs(), costs, together=True) == 3
    assert simulate(jobs(), costs, together=False) == 2
    assert share(jobs(), costs) == 0.75


def test_a_cheap_wide_step_is_used_when_it_answers_more():
    jobs = [job(t, k * 0.25, (k + 1) * 0.25, answer=10) for k in range(4) for t in (0, 1)]
    wide = Costs(FAST_PROMPT, (0.02, 0.022))  # two sequences per step for 10% more than one
    assert share(jobs, wide) == 1.0
    assert share(jobs, Costs(FAST_PROMPT, (0.02,))) == 0.5  # one at a time: the same collision as above


def test_width_follows_the_deadlines_not_the_arrivals():
    """Three answers due at once and a wide step 2.5x a single one: two in time one after the other beat
    three side by side that all miss (the issue's physics)."""
    jobs = [job(t, 0.0, 0.25, answer=10) for t in range(3)]
    assert simulate(jobs, Costs(FAST_PROMPT, (0.012, 0.02, 0.03))) == 2


def test_a_job_that_cannot_finish_is_not_answered_and_its_answer_costs_nothing():
    jobs = [job(0, 0.0, 0.25, answer=100), job(1, 0.0, 0.25, answer=10)]
    assert simulate(jobs, Costs(FAST_PROMPT, (0.02, 0.04))) == 1


def test_a_prompt_given_up_is_the_next_keystrokes_to_evaluate():
    """The cache holds only what was evaluated: a cold prompt nobody had time for is paid by the keystroke after
    it (at the same place), not skipped."""
    costs = Costs(1000.0, (0.01,))
    cold = Job(0, 0.0, 0.25, prompt=400, answer=5, cold=True)  # 0.4 s of prompt: cannot be in time
    warm = Job(0, 0.25, 0.5, prompt=1, answer=5)
    # The cold prompt is evaluated in the spare time while no other keystroke waits: the next one is in time.
    assert simulate([cold, warm], costs) == 1
    assert warm.carried > 0
    # A keystroke at a new place starts cold: nothing of the place before carries over.
    elsewhere = Job(0, 0.25, 0.5, prompt=1, answer=5, cold=True)
    simulate([cold, elsewhere], costs)
    assert elsewhere.carried == 0


def test_prompt_time_counts():
    costs = Costs(1000.0, (0.01,))
    assert simulate([job(0, 0.0, 0.25, answer=5, prompt=100)], costs) == 1  # 0.1 s + 0.05 s
    assert simulate([job(0, 0.0, 0.25, answer=5, prompt=300)], costs) == 0  # 0.3 s of prompt alone


def test_a_step_of_a_few_tokens_costs_what_it_was_measured_at_not_the_chunk_rate():
    """On a CPU one token is a matrix-vector product and two or more a matrix product: a keystroke's few new
    prompt tokens cost more each than a chunk's. The ceiling prices a step's further tokens from the measured
    steps of one sequence by token count, interpolated, and at the chunk rate beyond the largest measured."""
    measured = ((1, 0.010), (2, 0.0185), (8, 0.0317), (128, 0.240))
    costs = Costs(500.0, (0.010, 0.021), measured)
    assert costs.tokens(1) == 0.010 and costs.tokens(2) == 0.0185 and costs.tokens(128) == 0.240
    assert abs(costs.tokens(5) - (0.0185 + 0.0132 / 2)) < 1e-9  # halfway between 2 and 8
    assert abs(costs.tokens(138) - (0.240 + 10 / 500.0)) < 1e-9
    assert abs(costs.extra(1, 1) - 0.0085) < 1e-9  # a second token: the jump to a matrix product
    assert abs(costs.extra(2, 6) - (0.0317 - 0.0185)) < 1e-9  # beside two decoding sequences: from 2 to 8
    assert costs.extra(2, 0) == 0.0
    # Without the measurement every further token costs a chunk's: the model the ceiling had before.
    plain = Costs(500.0, (0.010,))
    assert abs(plain.extra(1, 3) - 3 / 500.0) < 1e-9
    # A keystroke of four new tokens and a 10-token answer, 0.2 s of decoding: in time at the chunk rate
    # (+6 ms), not at what four tokens in one step were measured to cost (+60 ms).
    keystroke = [job(0, 0.0, 0.25, answer=10, prompt=4)]
    assert simulate(keystroke, Costs(500.0, (0.02,))) == 1
    assert simulate(keystroke, Costs(500.0, (0.02,), ((1, 0.02), (4, 0.08), (128, 0.3)))) == 0


def test_a_waited_answer_counts_even_when_late():
    """The replay waits for a place's last answer: it counts whenever it comes."""
    assert simulate([job(0, 0.0, 0.25, answer=100, waited=True)], Costs(FAST_PROMPT, (0.02,))) == 1


def test_schedule_types_like_the_replay():
    """Typist i types places i, i+n, ...; a word every interval; the deadline is the next word; the
    place's last keystroke is waited for; a typed word is the only new prompt text; a new place is cold."""
    workload = [typed_line("a.py:1", "alpha beta gamma"), typed_line("b.py:1", "one two"),
                typed_line("c.py:1", "left right")]
    jobs = schedule(workload, typists=2, interval=0.5, count_tokens=words, max_tokens=32, cold_window=6)
    by_typist = {t: [j for j in jobs if j.typist == t] for t in (0, 1)}
    assert [j.arrival for j in by_typist[0]] == [0.0, 0.5, 1.0, 1.5, 2.0]  # a.py, then c.py
    assert [j.arrival for j in by_typist[1]] == [0.0, 0.5]  # b.py
    assert all(j.deadline == j.arrival + 0.5 for j in jobs)
    assert [j.waited for j in by_typist[0]] == [False, False, True, False, True]
    # Cold: "x = 1\n" + "" + "\nrest\n" is 4 words, cut to the cold window (6 shared by 2 typists: 3); then
    # one word each.
    assert [j.prompt for j in by_typist[0]] == [3, 1, 1, 3, 1]
    assert [j.answer for j in by_typist[0]] == [4, 3, 2, 3, 2]  # the rest of the line and a stop
    assert [j.arrival for j in jobs] == sorted(j.arrival for j in jobs)


def test_a_places_first_keystroke_costs_the_prompt_stages_own_window_when_given():
    """With `first_prompt` (the prompt stage's cold window, which may be longer than its target), the cold
    keystrokes cost what it says, given the cold window's target for the typists; the others their new text."""
    workload = [typed_line("a.py:1", "alpha beta gamma"), typed_line("b.py:1", "one two")]
    asked = []

    def first_prompt(prefix, suffix, target):
        asked.append((prefix, target))
        return 50

    jobs = schedule(workload, typists=2, interval=0.5, count_tokens=words, cold_window=6, first_prompt=first_prompt)
    assert sorted(j.prompt for j in jobs if j.cold) == [50, 50] and all(j.prompt == 1 for j in jobs if not j.cold)
    assert asked == [("x = 1\n", 3), ("x = 1\n", 3)]


def test_the_new_prompt_text_survives_a_sliding_window():
    previous = "line1\nline2\nline3 = fo"
    prefix = "line2\nline3 = foo\nline4 "  # the window's head moved down a line with the cursor
    assert new_prompt_text(previous, prefix, "\nsuffix") == ("o\nline4 ", False)
    assert new_prompt_text(None, "a", "b") == ("ab", True)
    assert new_prompt_text("def f(", "def f(x, ", "") == ("x, ", False)


def test_the_table_shows_the_ceiling_beside_the_share():
    summaries = [{"label": "codefill @2 #1", "typists": 2, "requests": 10, "completed": 4, "answered": 0.4,
                  "abandoned": 6, "errors": 0, "p50_ms": 90.0, "p90_ms": 200.0, "p99_ms": 240.0,
                  "exact_match": 0.5, "throughput_rps": 2.0, "wall_s": 2.5}]
    assert "ceiling" not in format_table(summaries)
    add_ceilings(summaries, {2: 0.8})
    assert summaries[0]["ceiling"] == 0.8 and summaries[0]["answered/ceiling"] == 0.5
    header, row = format_table(summaries).splitlines()
    assert header.split()[3:6] == ["answered", "ceiling", "answered/ceiling"]
    assert row.split()[5:8] == ["0.4", "0.8", "0.5"]  # after the label's three words and the requests, completed
    assert ratio(0.4, 0.0) is None and ratio(None, 0.8) is None


def test_costs_measured_again_keep_the_faster_of_each(monkeypatch, tmp_path):
    """A shared machine's speed drifts: the ceiling takes each cost at its faster measurement, before or
    after the runs (the higher ceiling), not whichever the start of the run happened to give."""
    import json
    import subprocess

    from codefill.bench import step_costs

    outputs = iter([{"prefill_tps": 500.0, "step_seconds": [0.010, 0.020, 0.030], "tokens": [3],
                     "token_seconds": [[1, 0.010], [4, 0.024]]},
                    {"prefill_tps": 420.0, "step_seconds": [0.009, 0.022, 0.025], "tokens": [3],
                     "token_seconds": [[1, 0.011], [4, 0.022]]}])

    def fake_run(cmd, **kw):
        return subprocess.CompletedProcess(cmd, 0, stdout=json.dumps(next(outputs)), stderr="")

    monkeypatch.setattr(step_costs.subprocess, "run", fake_run)
    model = tmp_path / "m.gguf"
    model.write_bytes(b"x")
    first, tokens = step_costs.measure(model, widths=3, texts=["a b c"])
    assert first == Costs(500.0, (0.010, 0.020, 0.030), ((1, 0.010), (4, 0.024))) and tokens == [3]
    again, _ = step_costs.measure(model, widths=3, texts=["a b c"], again=True)
    assert again == Costs(500.0, (0.009, 0.020, 0.025), ((1, 0.010), (4, 0.022)))
    assert step_costs.measure(model, widths=3)[0] == again  # cached for the rest of the run
