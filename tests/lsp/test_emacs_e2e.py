"""A real editor: Emacs with lsp-mode (batch mode) drives the bridge with its
own LSP client: document sync, and lsp-mode's completion-at-point. Skipped
where Emacs or lsp-mode is not installed (Debian: emacs-nox, elpa-lsp-mode)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.lsp.bridge_helpers import server_completion

from codefill.lsp.completion import label_for

SCRIPT = Path(__file__).parent / "editors" / "emacs_smoke.el"
HAS_LSP_MODE = bool(glob.glob("/usr/share/emacs/site-lisp/elpa/lsp-mode-*")
                    or glob.glob(os.path.expanduser("~/.emacs.d/elpa/lsp-mode-*")))


@pytest.mark.skipif(shutil.which("emacs") is None or not HAS_LSP_MODE, reason="Emacs with lsp-mode is not installed")
def test_emacs_lsp_mode_edits_and_completes_through_the_bridge(live_server, tmp_path):
    out = tmp_path / "result.json"
    env = {**os.environ, "CODEFILL_CMD": f"{sys.executable} -m codefill.cli lsp", "CODEFILL_SERVER": live_server.url,
           "CODEFILL_DIR": str(tmp_path), "CODEFILL_OUT": str(out), "HOME": str(tmp_path)}
    subprocess.run(["emacs", "--batch", "-l", str(SCRIPT)], env=env, timeout=180, stdin=subprocess.DEVNULL,
                   capture_output=True)
    result = json.loads(out.read_text())
    assert result["error"] is None, result["error"]
    assert "lsp-mode" in result["client"]
    # lsp-mode's buffer is the bridge's text, emoji and all.
    assert result["bridge_text"] == result["buffer_text"]
    assert "# 😀 emoji, then more: y = 1\n" in result["buffer_text"]
    # completion-at-point offers the one codefill item, labelled with its first line.
    text = result["buffer_text"]
    expected = server_completion(live_server, text, "", max_tokens=32)
    assert result["candidates"] == ([label_for(expected)] if expected.strip() else [])
