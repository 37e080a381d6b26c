"""The Monaco playground: served by the server at /playground, and used in
a real browser (Debian's chromium via playwright-core) against the live
server with the real model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from codefill.server.playground import mount_playground

from .next_edit_stub import assert_drawn_as_answered
from .node import ARTIFACTS, EXTENSIONS, ensure_node_modules, vitest

CHROMIUM = "/usr/bin/chromium"


def test_monaco_unit_tests():
    vitest("monaco", min_passed=9, name="monaco-unit")


def test_without_a_build_playground_says_how_to_build(tmp_path):
    app = FastAPI()
    mount_playground(app, directory=tmp_path / "missing")
    client = TestClient(app)
    for path in ("/playground", "/playground/", "/playground/playground.js"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 404, path
        assert r.json()["error"]["code"] == "playground_not_built"
        assert "make playground" in r.json()["error"]["message"]


def test_a_build_is_served_at_playground(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>pg</title>")
    (tmp_path / "playground.js").write_text("export {}")
    app = FastAPI()
    mount_playground(app, directory=tmp_path)
    mount_playground(app, directory=tmp_path)  # a second call changes nothing
    client = TestClient(app)
    r = client.get("/playground", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/playground/"  # relative asset URLs need the slash
    assert "<title>pg</title>" in client.get("/playground/").text
    assert client.get("/playground/playground.js").headers["content-type"].startswith("text/javascript")


def test_playground_in_a_real_browser(live_server):
    assert shutil.which("chromium") or os.path.exists(CHROMIUM), \
        "Debian's chromium is missing: `make browser-deps` installs it"
    ensure_node_modules()
    page = httpx.get(live_server.url + "/playground/", timeout=10)
    assert page.status_code == 200, (
        f"the live server does not serve the playground ({page.status_code}: {page.text[:300]}); "
        "build it with `make playground` and mount it in create_app (server/playground.py)")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "playground.png"
    shot.unlink(missing_ok=True)
    proc = subprocess.run(["node", "test/e2e.mjs", live_server.url, str(shot)], cwd=EXTENSIONS / "monaco",
                          capture_output=True, text=True, timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert out.strip().splitlines()[-1].startswith("e2e: ok "), out[-6000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_playground_next_edits_in_a_real_browser(live_server):
    """Next edits in the page, in chromium. The first part's edit is a STUB: the browser's request
    is answered by the test script (playwright's page.route), because the default model is not a
    next-edit model; the page's drawing, Tab and Esc are real. The second part passes the request
    through to the live server and checks that its answer is drawn, or that no_edit draws nothing."""
    ensure_node_modules()
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("playground-*next-edit*.png"):
        old.unlink()
    proc = subprocess.run(["node", "test/next-edit-e2e.mjs", live_server.url, str(ARTIFACTS)], cwd=EXTENSIONS / "monaco",
                          capture_output=True, text=True, timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    report = json.loads(out.strip().splitlines()[-1].removeprefix("next-edit e2e: ok "))
    stubbed = report["stubbed"]
    assert stubbed["drawn"] == ["→ width"] and stubbed["struck"] == ["w"], stubbed
    assert "    return width * h\n" in stubbed["after"], stubbed
    assert stubbed["position"] == {"lineNumber": 2, "column": 17}, stubbed  # after the new text
    typed = "def area(w, height):\n    return w * h\n\n\nprint(area(2, 3))\n"
    assert_drawn_as_answered(report["real"], typed, {"line": 0, "character": 18})  # the cursor after "eight"
    assert (ARTIFACTS / "playground-next-edit.png").stat().st_size > 10_000
