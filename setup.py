"""Which packages go into the wheel, found rather than listed.

The product's parts live in top-level folders (server/, models/, lsp/) but
import under one namespace, `codefill.server`, `codefill.models`,
`codefill.lsp`, so nothing of ours is a bare `server` or `models`.
pyproject.toml cannot find packages under a renamed folder, so this file walks
each folder with `find_packages` and names what it finds under its import
name: a new sub-package (a folder with an `__init__.py`) is in the next wheel
with no edit. Everything else about the project is in pyproject.toml.

The playground page (/playground, server/playground.py) is built by npm into
extensions/monaco/dist; when that build is there, the wheel carries a copy as
`codefill/server/playground_dist/`, where server/playground.py looks first.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# import name -> the folder that holds it
FOLDERS = {"codefill": "codefill", "codefill.server": "server", "codefill.models": "models", "codefill.lsp": "lsp"}
PLAYGROUND_BUILD = HERE / "extensions" / "monaco" / "dist"
PLAYGROUND_IN_WHEEL = ("codefill", "server", "playground_dist")


def packages() -> list[str]:
    found = []
    for name, folder in FOLDERS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(folder)]
    return sorted(set(found))


class BuildWithPlayground(build_py):
    """build_py, plus the built playground page when there is one (not in editable
    installs: those serve it from extensions/monaco/dist directly)."""

    def run(self) -> None:
        if not getattr(self, "editable_mode", False):
            # build/ outlives a build: start from an empty tree, so that a module
            # moved or deleted since the last build is not still in the wheel.
            shutil.rmtree(Path(self.build_lib, "codefill"), ignore_errors=True)
        super().run()
        if getattr(self, "editable_mode", False) or not (PLAYGROUND_BUILD / "index.html").is_file():
            return
        target = Path(self.build_lib, *PLAYGROUND_IN_WHEEL)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(PLAYGROUND_BUILD, target)


setup(packages=packages(), package_dir=FOLDERS, cmdclass={"build_py": BuildWithPlayground})
