"""Entry points: `codefill lsp` (run) and serve, on stdio or TCP."""

from __future__ import annotations

import logging
import os
import sys

from codefill import __version__

from .logs import setup_logging
from .server import create_server
from .settings import Settings, merge

log = logging.getLogger("codefill.lsp")


def serve(settings: Settings, *, tcp: bool = False, host: str = "127.0.0.1", port: int = 2087,
          log_level: str = "info") -> None:
    """Run the bridge on stdio (what editors start) or TCP (for debugging)."""
    server = create_server(settings)
    setup_logging(server, log_level)
    if tcp:
        log.info("codefill LSP bridge %s listening on %s:%d, server %s", __version__, host, port,
                 settings.server_url)
        server.start_tcp(host, port)
        return
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # stdout carries the protocol only: anything printed by mistake goes to stderr.
    sys.stdout = sys.stderr
    log.info("codefill LSP bridge %s on stdio, server %s, session %s", __version__, settings.server_url,
             server.session.id)
    server.start_io(stdin, stdout)


def run(*, server_url: str, api_key: str | None = None, tcp: bool = False, host: str = "127.0.0.1",
        port: int = 2087, log_level: str = "info") -> int:
    """`codefill lsp`: settings from its flags (the API key also from
    CODEFILL_API_KEY, which keeps it out of process listings), then serve."""
    settings, problems = merge(Settings(), {"serverUrl": server_url,
                                            "apiKey": api_key or os.environ.get("CODEFILL_API_KEY")})
    if problems:
        print("codefill lsp: error: " + "; ".join(problems), file=sys.stderr)
        return 2
    serve(settings, tcp=tcp, host=host, port=port, log_level=log_level)
    return 0
