"""The codefill language server: a bridge from editors that speak LSP to a
codefill server over HTTP. Start it with `codefill lsp`.

It answers textDocument/inlineCompletion (ghost text) and textDocument/completion
(one menu item) from POST /v1/completions, keeping the editor's documents in
sync to build the prompt. See docs/LSP.md for editor set-up.
"""

from .main import run, serve
from .server import create_server
from .settings import Settings

__all__ = ["Settings", "create_server", "run", "serve"]
