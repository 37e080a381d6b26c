"""The packaged VS Code extension (.vsix) in a real VS Code: npm's code-server 4.100.0
(VS Code 1.100) driven in Debian's chromium by extensions/vscode/test/real/code-server-e2e.mjs.

What is real and what is not:
- Ghost text: real all the way. A live `codefill serve` with the default model answers the
  completion; the test reads the saved file to see that Tab put the ghost text into it.
- Next edit, drawn and applied: the edit comes from a STUB (tests/extensions/next_edit_stub.py).
  The default model is not a next-edit model, so what it predicts cannot be scripted; for the one
  file `rename.py` the stub answers POST /v1/next_edit with a fixed edit in the server's shape.
  The extension, its history, its drawing (gutter arrow, struck-through text, the new text) and
  Tab applying it are all real; the saved file is checked.
- Next edit from the live server: for `real.py` the stub only forwards the request to the live
  server and records its answer; the test checks that edits are drawn and that "no_edit" draws
  nothing. It does not check that the model's edit is a good one.

code-server is installed once, outside the source tree (`make code-server`, or by this test
when missing; see extensions/vscode/test/real/install-code-server.sh): 64 s on this 2-core
machine with an empty npm cache, 43 s with it warm. This test then takes about 30 s plus the
live server's start.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from codefill.launch import free_port, start_command

from tests.helpers import start_server, stop_server
from .next_edit_stub import NextEditStub, assert_drawn_as_answered
from .node import ARTIFACTS, EXTENSIONS, ensure_node_modules, run

VERSION = "4.100.0"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "codefill" / f"code-server-{VERSION}"
INSTALL = EXTENSIONS / "vscode" / "test" / "real" / "install-code-server.sh"
DRIVER = "test/real/code-server-e2e.mjs"

RENAME = "def area(w, h):\n    return w * h\n\n\nprint(area(2, 3))\n"
SETTINGS = {
    "codefill.debounceMs": 50,
    # The longest deadline the server takes: the live server on a busy CPU is not dropped.
    "codefill.deadlineMs": 60000,
    "codefill.nextEditDelayMs": 100,
    "workbench.startupEditor": "none",
    "security.workspace.trust.enabled": False,
    "telemetry.telemetryLevel": "off",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "update.mode": "none",
    "workbench.tips.enabled": False,
    "workbench.enableExperiments": False,
    "files.autoSave": "off",
    # the suggest widget would hide ghost text and take Tab
    "editor.quickSuggestions": {"other": False, "comments": False, "strings": False},
    "editor.suggestOnTriggerCharacters": False,
}


@pytest.fixture(scope="module")
def code_server() -> Path:
    """code-server's entry point, installed into the cache folder if it is not there yet."""
    if not (CACHE / f".installed-{VERSION}").exists():
        assert shutil.which("rg"), "ripgrep is missing: `make code-server` installs it with code-server's other needs"
        run(["bash", str(INSTALL), str(CACHE)], cwd=EXTENSIONS, timeout=900)
    entry = CACHE / "node_modules" / "code-server" / "out" / "node" / "entry.js"
    assert entry.exists(), entry
    return entry


@pytest.fixture(scope="module")
def vsix() -> Path:
    ensure_node_modules()
    run(["npm", "run", "package"], cwd=EXTENSIONS / "vscode", timeout=300)
    return EXTENSIONS / "vscode" / "dist" / "codefill.vsix"


@pytest.fixture(scope="module")
def live():
    # A server of its own: a next-edit request that brought it down would not take others' tests with it.
    server = start_server(name="code-server-live")
    yield server
    stop_server(server)


def test_extension_in_code_server(code_server, vsix, live, tmp_path):
    assert shutil.which("chromium") or os.path.exists("/usr/bin/chromium"), "Debian's chromium: `make client-deps`"
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("code-server-*.png"):
        old.unlink()
    workspace, user_data, extensions, xdg = (tmp_path / d for d in ("ws", "user-data", "extensions", "xdg"))
    for d in (workspace, user_data / "User", xdg):
        d.mkdir(parents=True)
    (workspace / "main.py").write_text("def add(a, b):\n    ")
    (workspace / "rename.py").write_text(RENAME)
    (workspace / "real.py").write_text(RENAME)
    # code-server writes its config (a password) under XDG_CONFIG_HOME: keep it in tmp_path.
    env = {**os.environ, "XDG_CONFIG_HOME": str(xdg), "XDG_DATA_HOME": str(xdg)}
    folders = ["--extensions-dir", str(extensions), "--user-data-dir", str(user_data)]
    proc = subprocess.run(["node", str(code_server), *folders, "--install-extension", str(vsix)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "successfully installed" in proc.stdout, proc.stdout + proc.stderr

    with NextEditStub(live.url) as stub:
        settings = {**SETTINGS, "codefill.serverUrl": live.url, "codefill.nextEditServerUrl": stub.url}
        (user_data / "User" / "settings.json").write_text(json.dumps(settings, indent=1))
        port = free_port()
        vscode = start_command(
            ["node", str(code_server), "--auth", "none", "--bind-addr", f"127.0.0.1:{port}", "--disable-telemetry",
             "--disable-update-check", "--disable-workspace-trust", "--disable-getting-started-override",
             *folders, str(workspace)],
            port=port, label="code-server", model="", probe="/healthz", ready_timeout=60, env=env)
        try:
            proc = subprocess.run(["node", DRIVER, f"{vscode.url}/?folder={workspace}", stub.url, str(ARTIFACTS)],
                                  cwd=EXTENSIONS / "vscode", capture_output=True, text=True, timeout=300)
        finally:
            stop_server(vscode)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-6000:] + "\n--- live server log ---\n" + live.log()[-3000:]
        report = json.loads(out.strip().splitlines()[-1].removeprefix("code-server e2e: "))
        stubbed_requests = stub.stubbed

    # Ghost text from the live server, accepted with Tab and saved.
    shown = report["ghost"]["shown"]
    assert shown.strip(), report["ghost"]
    saved = (workspace / "main.py").read_text()
    assert saved.startswith("def add(a, b):\n    return") and saved.rstrip() != "def add(a, b):\n    return", saved
    assert shown.strip().splitlines()[0] in saved, (shown, saved)

    # The stub's next edit: drawn where it applies, then Tab went there and applied it.
    s = report["stubbed"]
    assert any(t.strip() == "width" for t in s["drawn"]), s
    assert "return w * h" in s["before"] and "return width * h" in s["after"], s
    assert s["cursor"].startswith("Ln 2, Col 17"), s  # after the new text
    assert (workspace / "rename.py").read_text() == RENAME.replace("w, h", "width, h").replace("w * h", "width * h")
    sent = [r for r in stubbed_requests if r["answer"]["edits"]][-1]["request"]
    assert sent["history"] and "+def area(width, h):" in sent["history"][-1]["diff"], sent
    assert sent["cursor"] == {"line": 0, "character": 14}, sent

    # The live server's own answer for real.py: drawn if it has edits, nothing drawn for no_edit.
    typed = RENAME.replace("w, h", "w, height")
    assert_drawn_as_answered(report["real"], typed, {"line": 0, "character": 18})  # the cursor after "eight"
