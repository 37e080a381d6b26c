"""`codefill models prepare`: the choice between formats, and how resolve_model follows it.

Measuring real files is slow; the choice rule is tested with made-up
measurements, the quantizer and the measurement on the real default model
in tests/integration/test_prepare.py."""

import json

from codefill.models import prepare as prep
from codefill.models.store import DEFAULT_MODEL, resolve_model


def fake_measure(table):
    def measure(path, fmt, **_):
        tps, dec, ppl = table[fmt]
        return prep.Measurement(path.name, fmt, 1.0, tps, dec, ppl)
    return measure


def setup_source(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEFILL_MODEL_DIR", str(tmp_path))
    source = tmp_path / DEFAULT_MODEL.filename
    source.write_bytes(b"GGUF original")
    monkeypatch.setattr(prep, "_format_of", lambda path: "Q4_1")
    monkeypatch.setattr(prep, "quantize", lambda src, target, fmt: target.write_bytes(b"GGUF " + fmt.encode()) or target)
    return source


def prepared_with(tmp_path, monkeypatch, table):
    """`prepare` on a made-up source whose formats measure as `table` says: (source, record)."""
    source = setup_source(tmp_path, monkeypatch)
    monkeypatch.setattr(prep, "measure", fake_measure(table))
    return source, prep.prepare(source, log=lambda _: None)


def test_fastest_eligible_format_is_chosen_and_served(tmp_path, monkeypatch):
    source, record = prepared_with(tmp_path, monkeypatch, {"Q4_1": (300, 130, 10.0), "Q4_0": (700, 180, 12.0),
                                                           "Q8_0": (650, 150, 10.01),
                                                           "BF16": (400, 90, 9.99)})
    # Q4_0 is fastest but its perplexity is 20% worse; BF16 keeps quality but is slow here: Q8_0 wins.
    assert record["format"] == "Q8_0"
    assert record["chosen"] == "SmolLM2-135M-Instruct.Q8_0.gguf"
    assert not (tmp_path / "SmolLM2-135M-Instruct.Q4_0.gguf").exists()  # losers are deleted
    assert resolve_model("default") == tmp_path / "SmolLM2-135M-Instruct.Q8_0.gguf"
    assert resolve_model("default", prepared=False) == source
    assert json.loads(prep.prepared_record(source).read_text())["measurements"][0]["format"] == "Q4_1"
    assert prep.undo(source)
    assert resolve_model("default") == source
    assert not (tmp_path / "SmolLM2-135M-Instruct.Q8_0.gguf").exists()


def test_original_kept_unless_a_candidate_is_clearly_faster(tmp_path, monkeypatch):
    source, record = prepared_with(tmp_path, monkeypatch, {"Q4_1": (300, 130, 10.0), "Q4_0": (305, 131, 10.0),
                                                           "Q8_0": (200, 100, 10.0),
                                                           "BF16": (250, 90, 10.0)})
    assert record["chosen"] == source.name
    assert resolve_model("default") == source


def test_a_deleted_choice_falls_back_to_the_original(tmp_path, monkeypatch):
    source, record = prepared_with(tmp_path, monkeypatch, {"Q4_1": (300, 130, 10.0), "Q4_0": (700, 180, 10.1),
                                                           "Q8_0": (650, 150, 10.0),
                                                           "BF16": (250, 90, 10.0)})
    assert record["format"] == "Q4_0"
    (tmp_path / "SmolLM2-135M-Instruct.Q4_0.gguf").unlink()
    assert resolve_model("default") == source
    prep.prepared_record(source).write_text("not json")
    assert resolve_model("default") == source


def test_bf16_is_chosen_where_the_cpu_runs_it_fastest(tmp_path, monkeypatch):
    # A CPU whose BF16 kernels evaluate prompts much faster than Q8_0 and decode as fast: 16-bit weights,
    # which lose nothing.
    _, record = prepared_with(tmp_path, monkeypatch, {"Q4_1": (270, 100, 10.68), "Q4_0": (585, 80, 12.87),
                                                      "Q8_0": (496, 90, 10.66), "BF16": (900, 100, 10.60)})
    assert record["format"] == "BF16"
    assert resolve_model("default") == tmp_path / "SmolLM2-135M-Instruct.BF16.gguf"
    assert not (tmp_path / "SmolLM2-135M-Instruct.Q8_0.gguf").exists()


def test_a_busy_spell_of_the_machine_does_not_flip_the_choice(tmp_path, monkeypatch):
    # True speeds: Q8_0 is clearly the fastest eligible format. The machine is busy (everything at a third
    # of its speed) for timings 7 to 9: timed three times one file after another, that spell would cover all
    # three of Q8_0's and the original would be kept; in rounds, every file gets quiet ones.
    source = setup_source(tmp_path, monkeypatch)
    true = {"Q4_1": (266, 100, 10.68), "Q4_0": (581, 140, 12.87), "Q8_0": (486, 115, 10.66),
            "BF16": (627, 84, 10.60)}
    calls = []

    def measure(path, fmt, *, perplexity=True, **_):
        calls.append((fmt, perplexity))
        slow = 3.0 if 7 <= len(calls) <= 9 else 1.0
        tps, dec, ppl = true[fmt]
        return prep.Measurement(path.name, fmt, 1.0, tps / slow, dec / slow, ppl if perplexity else float("nan"))

    monkeypatch.setattr(prep, "measure", measure)
    record = prep.prepare(source, log=lambda _: None)
    assert record["format"] == "Q8_0"
    # Three rounds of four files, perplexity measured once per file, every file's speed at its best round.
    assert len(calls) == 12 and sum(p for _, p in calls) == 4
    by_format = {m["format"]: m for m in record["measurements"]}
    assert by_format["Q8_0"]["prefill_tps"] == 486 and by_format["Q8_0"]["perplexity"] == 10.66
