"""window/showMessage when the server fails: once per outage, not per request."""

from __future__ import annotations

from lsprotocol import types

from codefill.lsp.api import ServerProblem
from codefill.lsp.status import ServerStatus


def test_one_message_per_outage():
    shown = []
    status = ServerStatus(lambda kind, message: shown.append((kind, message)))
    for _ in range(20):
        status.failed(ServerProblem("unreachable", "cannot reach the codefill server at http://h:1"))
    assert len(shown) == 1
    assert shown[0][0] == types.MessageType.Warning
    assert "cannot reach the codefill server at http://h:1" in shown[0][1]
    status.succeeded()
    assert status.healthy
    status.failed(ServerProblem("auth", "refused the key"))
    status.failed(ServerProblem("auth", "refused the key"))
    assert len(shown) == 2 and shown[1][0] == types.MessageType.Error


def test_a_loading_model_is_not_worth_a_message():
    shown = []
    status = ServerStatus(lambda kind, message: shown.append(message))
    status.failed(ServerProblem("loading", "the model is still loading"))
    assert shown == [] and not status.healthy
    status.failed(ServerProblem("unreachable", "gone"))
    assert len(shown) == 1
