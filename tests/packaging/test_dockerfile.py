"""The Dockerfile builds the same wheel a user gets: its build stage copies
everything `pip wheel .` reads (pyproject.toml, setup.py, README.md and each
folder setup.py maps to a package) and .dockerignore keeps none of it out;
llama.cpp is compiled there only, for any x86-64 CPU (not the building
machine's), and both images install from the build stage's wheels.
(No Docker engine here: docker-compose.yml's side is tests/unit/test_compose.py.)"""

from __future__ import annotations

import ast
import fnmatch
import re

import pytest

from tests.helpers import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _stages() -> dict[str, str]:
    """Stage name -> its instructions."""
    parts = re.split(r"^FROM \S+ AS (\w+)\n", DOCKERFILE, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def _mapped_folders() -> set[str]:
    """The folders setup.py turns into packages (its FOLDERS dict), read without running it."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "FOLDERS":
            return set(ast.literal_eval(node.value).values())
    raise AssertionError("setup.py has no FOLDERS")


def test_the_build_stage_copies_what_the_wheel_is_built_from():
    copied = set()
    for sources in re.findall(r"^COPY (?!--from)(.+?) \S+$", _stages()["build"], re.M):
        copied.update(sources.split())
    needed = {"pyproject.toml", "setup.py", "README.md"} | _mapped_folders()
    assert needed <= copied, f"not copied into the build stage: {sorted(needed - copied)}"
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    for path in needed:
        assert not any(fnmatch.fnmatch(path, pattern) for pattern in ignored), f".dockerignore leaves out {path}"
    assert re.search(r"^RUN pip wheel .*--wheel-dir /wheels \.$", _stages()["build"], re.M)


def test_llama_cpp_is_compiled_for_any_cpu_in_the_build_stage_only():
    stages = _stages()
    assert 'CMAKE_ARGS="-DGGML_NATIVE=OFF"' in stages["build"]
    assert "build-essential" in stages["build"]


@pytest.mark.parametrize("image", ["cpu", "vllm"])
def test_each_image_installs_codefill_from_the_build_stages_wheels(image):
    stage = _stages()[image]
    assert "--mount=type=bind,from=build,source=/wheels,target=/wheels" in stage
    assert re.search(r"pip install --no-cache-dir .*--find-links /wheels codefill", stage)
    assert "build-essential" not in stage and "COPY" not in stage, "the image builds from sources itself"
