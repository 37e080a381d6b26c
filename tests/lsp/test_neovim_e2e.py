"""A real editor: Neovim (headless) drives the bridge with its own LSP
client, document sync included. Skipped where no `nvim` is installed (Debian
bookworm's is 0.7, which has textDocument/completion but not the 0.12 inline
completion UI; the script sends textDocument/inlineCompletion by hand)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent / "editors" / "neovim_smoke.lua"


@pytest.mark.skipif(shutil.which("nvim") is None, reason="nvim is not installed")
def test_neovim_edits_and_completes_through_the_bridge(live_server, tmp_path):
    out = tmp_path / "result.json"
    env = {**os.environ, "CODEFILL_CMD": f"{sys.executable} -m codefill.cli lsp", "CODEFILL_SERVER": live_server.url,
           "CODEFILL_DIR": str(tmp_path), "CODEFILL_OUT": str(out)}
    subprocess.run(["nvim", "--headless", "--clean", "-c", f"luafile {SCRIPT}"], env=env, timeout=180,
                   stdin=subprocess.DEVNULL, capture_output=True)
    result = json.loads(out.read_text())
    assert result.get("error") is None, result["error"]
    assert result["inline_capability"] and result["sync_kind"] == 2
    # Neovim's buffer, as the file it would write, is the bridge's text.
    assert result["bridge_text"] == "\n".join(result["buffer_lines"]) + "\n"
    assert "# 😀 emoji before the edit point: y = 1" in result["buffer_lines"]
    # The cursor is after "    return " on the last line: the menu item puts
    # the word being typed ("", after a space) in front, the inline item the
    # rest of the line (nothing) after; both carry the same completion.
    items = result["completion"]["items"]
    assert len(items) == 1 and items[0]["textEdit"]["newText"].strip()
    inline = result["inline"]["items"]
    assert len(inline) == 1 and inline[0]["insertText"] == items[0]["textEdit"]["newText"]
