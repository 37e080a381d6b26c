"""initialize, initialized and shutdown.

initialize reads the client's `initializationOptions` as settings, the
position encoding pygls negotiated (positions are counted in it), and the
workspace folders (paths sent to the server are relative to them).
initialized pulls the `codefill` settings section from clients that serve
workspace/configuration; completions wait for it (see server.settled).
"""

from __future__ import annotations

import logging

from lsprotocol import types

log = logging.getLogger("codefill.lsp.lifecycle")


def register(server) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls, params: types.InitializeParams) -> None:
        ls.documents.encoding = ls.workspace.position_encoding or types.PositionEncodingKind.Utf16
        general = params.capabilities.general
        if params.client_info and params.client_info.name == "emacs" and not (general and general.position_encodings):
            # lsp-mode (which calls itself "emacs") counts columns in characters
            # whatever the LSP says, until versions that negotiate an encoding
            # (lsp-mode issue #2080). In UTF-16 every emoji before the cursor
            # would shift its edits by one and corrupt the bridge's copy.
            ls.documents.encoding = types.PositionEncodingKind.Utf32
        ls.roots = [f.uri for f in params.workspace_folders or []]
        if not ls.roots and params.root_uri:
            ls.roots = [params.root_uri]
        client = params.client_info
        log.info("client %s %s, positions in %s, session %s",
                 client.name if client else "(unnamed)", (client.version or "") if client else "",
                 ls.documents.encoding, ls.session.id)
        ls.update_settings(params.initialization_options, "initializationOptions")

    @server.feature(types.INITIALIZED)
    async def initialized(ls, params: types.InitializedParams) -> None:
        try:
            await ls.pull_settings()
        finally:
            ls.settings_pulled.set()

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls, params: None) -> None:
        ls.session.cancel()
        await ls.api.close()
