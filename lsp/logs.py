"""Logging: to stderr (editors keep a server's stderr in their LSP log) and
to the client as window/logMessage (shown in the editor's log or output
panel). stdout is the protocol's and gets nothing else.

Only the bridge's own records go to window/logMessage: pygls logs every
message it sends, and sending those would log again, without end.
"""

from __future__ import annotations

import logging
import sys

from lsprotocol import types

_LEVELS = {
    logging.ERROR: types.MessageType.Error,
    logging.WARNING: types.MessageType.Warning,
    logging.INFO: types.MessageType.Info,
    logging.DEBUG: types.MessageType.Log,
}


class ClientLogHandler(logging.Handler):
    """Forwards log records to the client as window/logMessage."""

    def __init__(self, server) -> None:
        super().__init__()
        self.server = server
        self._sending = False

    def emit(self, record: logging.LogRecord) -> None:
        if self._sending or getattr(self.server.protocol, "writer", None) is None:
            return
        self._sending = True
        try:
            kind = _LEVELS.get(record.levelno, types.MessageType.Log if record.levelno < logging.INFO
                               else types.MessageType.Error)
            self.server.window_log_message(types.LogMessageParams(type=kind, message=self.format(record)))
        except Exception:  # the client went away: stderr still has the record
            pass
        finally:
            self._sending = False


def setup_logging(server, level: str = "info") -> None:
    numeric = getattr(logging, level.upper(), logging.INFO)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(stderr)
    root.setLevel(logging.WARNING)
    # pygls logs whole messages at INFO; they help only when debugging the protocol.
    logging.getLogger("pygls").setLevel(logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING)
    ours = logging.getLogger("codefill.lsp")
    ours.setLevel(numeric)
    client = ClientLogHandler(server)
    client.setFormatter(logging.Formatter("%(message)s"))
    ours.addHandler(client)
    logging.getLogger("httpx").setLevel(logging.WARNING)
