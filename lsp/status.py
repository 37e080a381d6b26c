"""Whether the codefill server is answering, and what the user is told about
it (window/showMessage, window/logMessage).

Editors ask for completions on every keystroke. When the server is down each
of those fails, and a message per failure would bury the user, so the user is
shown one message when the server stops answering (the first failure after
a success, or ever) and the rest go to the log. When it answers again the
bridge says so in the log, and a later outage is shown again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from lsprotocol import types

from .api import ServerProblem

log = logging.getLogger("codefill.lsp.status")

# Not worth interrupting the user: the server is starting and will be ready.
_QUIET_KINDS = {"loading"}


class ServerStatus:
    def __init__(self, show: Callable[[types.MessageType, str], None]) -> None:
        self._show = show
        self.problem: ServerProblem | None = None
        self.failures = 0
        self._shown = False

    @property
    def healthy(self) -> bool:
        return self.problem is None

    def failed(self, problem: ServerProblem) -> None:
        self.problem = problem
        self.failures += 1
        if problem.kind in _QUIET_KINDS:
            log.info("%s; completions resume when it is ready", problem.message)
            return
        if self._shown:
            log.debug("still failing (%d times): %s", self.failures, problem.message)
            return
        self._shown = True
        log.warning("%s", problem.message)
        # Down or slow is a state that passes; a refused key or request needs the user.
        kind = types.MessageType.Warning if problem.kind in ("unreachable", "timeout") else types.MessageType.Error
        self._show(kind, f"codefill: {problem.message}. Completions are empty until it answers again "
                         "(this is shown once; details in the log).")

    def succeeded(self) -> None:
        if self.problem is not None:
            log.info("the codefill server answers again after %d failed requests", self.failures)
        self.problem = None
        self.failures = 0
        self._shown = False
