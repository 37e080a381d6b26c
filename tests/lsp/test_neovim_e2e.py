"""A real editor: Neovim (headless) drives the bridge with its own LSP
client, document sync included, and asks for next edits as the copilot-lsp
plugin does. Skipped where no `nvim` is installed (Debian
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

EDITORS = Path(__file__).parent / "editors"
needs_nvim = pytest.mark.skipif(shutil.which("nvim") is None, reason="nvim is not installed")


def run_neovim(script: str, server_url: str, folder: Path, timeout: float = 180) -> dict:
    """Run editors/SCRIPT in headless Neovim; the JSON it wrote."""
    out = folder / "result.json"
    env = {**os.environ, "CODEFILL_CMD": f"{sys.executable} -m codefill.cli lsp", "CODEFILL_SERVER": server_url,
           "CODEFILL_DIR": str(folder), "CODEFILL_OUT": str(out)}
    subprocess.run(["nvim", "--headless", "--clean", "-c", f"luafile {EDITORS / script}"], env=env,
                   timeout=timeout, stdin=subprocess.DEVNULL, capture_output=True)
    result = json.loads(out.read_text())
    assert result.get("error") is None, result["error"]
    return result


@needs_nvim
def test_neovim_edits_and_completes_through_the_bridge(live_server, tmp_path):
    result = run_neovim("neovim_smoke.lua", live_server.url, tmp_path)
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


@needs_nvim
def test_neovim_asks_for_the_next_edit_after_real_edits_and_applies_it(live_server, tmp_path):
    result = run_neovim("neovim_next_edit.lua", live_server.url, tmp_path, timeout=400)
    request = result["sent"]["request"]
    assert result["sent"]["answer"] is not None, "the server did not answer the next-edit request"
    # What Neovim's own didChange made of the edits, as the history the server got.
    assert [e["path"] for e in request["history"]] == ["caller.py", "shapes.py"]
    assert "-print(area(2))\n+print(area(3))\n" in request["history"][0]["diff"]
    assert "-def area(r):\n+def area(radius):\n" in request["history"][1]["diff"]
    assert request["cursor"] == {"line": 2, "character": 15} and "def area(radius):" in request["text"]
    edits = result["answer"]["edits"]
    lines = request["text"].split("\n")
    for edit in edits:
        assert edit["textDocument"] == {"uri": result["uri"], "version": result["version"]}
        for end in ("start", "end"):
            p = edit["range"][end]
            assert p["line"] < len(lines) and p["character"] <= len(lines[p["line"]].encode("utf-16-le")) // 2
    # Applied as copilot-lsp applies it: the bridge's copy follows the buffer.
    assert result["bridge_text"] == "\n".join(result["buffer_lines"]) + "\n"
    counts = result["status"]["nextEdits"]
    assert counts["requested"] == 1 and (counts["shown"], counts["accepted"]) == ((1, 1) if edits else (0, 0))
