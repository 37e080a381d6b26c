"""workspace/didChangeConfiguration, and workspace/configuration to pull the
`codefill` section from clients that push only a "something changed" signal
(settings null), as VS Code-style clients do.
"""

from __future__ import annotations

import logging

from lsprotocol import types

log = logging.getLogger("codefill.lsp.configuration")


def register(server) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls, params: types.DidChangeConfigurationParams) -> None:
        if params.settings:
            ls.update_settings(params.settings, "workspace settings")
        else:
            await ls.pull_settings()
