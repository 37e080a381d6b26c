"""`codefill models prepare` on the real default model: quantize, measure, choose, serve."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from codefill.models import prepare as prep
from codefill.models.store import DEFAULT_MODEL, resolve_model

pytestmark = pytest.mark.integration


@pytest.fixture()
def model_copy(tmp_path, monkeypatch):
    original = resolve_model("default", prepared=False)
    shutil.copy(original, tmp_path / DEFAULT_MODEL.filename)
    monkeypatch.setenv("CODEFILL_MODEL_DIR", str(tmp_path))
    return tmp_path / DEFAULT_MODEL.filename


def test_prepare_measures_the_real_model_and_serves_its_choice(model_copy):
    env = {**os.environ, "CODEFILL_MODEL_DIR": str(model_copy.parent)}
    run = subprocess.run([sys.executable, "-m", "codefill.cli", "models", "prepare", "default", "--formats", "Q4_0,Q8_0,BF16"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    record = json.loads(prep.prepared_record(model_copy).read_text())
    by_format = {m["format"]: m for m in record["measurements"]}
    assert set(by_format) == {"Q4_1", "Q4_0", "Q8_0", "BF16"}
    for m in by_format.values():
        assert m["prefill_tps"] > 0 and m["decode_tps"] > 0 and 1 < m["perplexity"] < 100
    # Re-quantizing Q4_1 weights to 8 or 16 bits keeps them; to 4 bits again loses some.
    assert by_format["Q8_0"]["perplexity"] <= by_format["Q4_1"]["perplexity"] * 1.01
    assert by_format["BF16"]["perplexity"] <= by_format["Q4_1"]["perplexity"] * 1.01
    assert by_format["Q4_0"]["perplexity"] > by_format["Q8_0"]["perplexity"]
    chosen = model_copy.with_name(record["chosen"])
    assert chosen.is_file()
    assert run.stdout.strip() == str(chosen)
    assert resolve_model("default") == chosen
    if record["format"] != "Q4_1":  # the choice is a real, loadable file of that format
        assert prep._format_of(chosen) == record["format"]
    # A second run keeps the choice without measuring again.
    again = subprocess.run([sys.executable, "-m", "codefill.cli", "models", "prepare"], capture_output=True,
                           text=True, env=env, timeout=120)
    assert again.returncode == 0 and "already prepared" in again.stderr
    assert again.stdout.strip() == str(chosen)
    undo = subprocess.run([sys.executable, "-m", "codefill.cli", "models", "prepare", "--undo"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert undo.returncode == 0
    assert resolve_model("default") == model_copy


def test_unknown_format_is_refused(model_copy):
    env = {**os.environ, "CODEFILL_MODEL_DIR": str(model_copy.parent)}
    run = subprocess.run([sys.executable, "-m", "codefill.cli", "models", "prepare", "--formats", "Q3_XYZ"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 2 and "unknown format" in run.stderr
