"""The VS Code extension: its unit tests (fake `vscode` module), the shared
HTTP client against the live server, and the .vsix it packages into."""

from __future__ import annotations

import json
import zipfile

from .node import EXTENSIONS, run, vitest, ensure_node_modules


def test_shared_client_unit_tests():
    vitest("common", min_passed=50, name="common")


def test_vscode_unit_tests():
    vitest("vscode", "test/unit", min_passed=24, name="vscode-unit")


def test_vscode_http_layer_against_live_server(live_server):
    vitest("vscode", "test/live", env={"CODEFILL_URL": live_server.url}, min_passed=8, name="vscode-live")


def test_vsix_packages_the_bundle_only():
    ensure_node_modules()
    vsix = EXTENSIONS / "vscode" / "dist" / "codefill.vsix"
    vsix.unlink(missing_ok=True)
    run(["npm", "run", "package"], cwd=EXTENSIONS / "vscode", timeout=300)
    with zipfile.ZipFile(vsix) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("extension/package.json"))
    assert "extension/dist/extension.js" in names
    assert manifest["main"] == "./dist/extension.js"
    assert manifest["engines"]["vscode"].startswith("^1.")
    # bundled: no dependencies, no sources, no tests, no source maps
    assert not [n for n in names if "node_modules" in n or n.endswith((".ts", ".map")) or "/test/" in n], names
