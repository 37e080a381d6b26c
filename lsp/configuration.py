"""workspace/didChangeConfiguration, workspace/configuration to pull the
`codefill` section from clients that push only a "something changed" signal
(settings null), as VS Code-style clients do, and
workspace/didChangeWorkspaceFolders (paths sent to the server are relative to
the workspace folders).
"""

from __future__ import annotations

from lsprotocol import types


def register(server) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls, params: types.DidChangeConfigurationParams) -> None:
        if params.settings:
            ls.update_settings(params.settings, "workspace settings")
        else:
            await ls.pull_settings()

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_workspace_folders(ls, params: types.DidChangeWorkspaceFoldersParams) -> None:
        # pygls has applied the change to its workspace already.
        ls.roots = [folder.uri for folder in ls.workspace.folders.values()]
