"""Document synchronisation: textDocument/didOpen, textDocument/didChange
(full and incremental), textDocument/didClose, and `codefill/document`, which
answers the bridge's copy of a document so that a user (or a test) can check
it matches the editor's.

didOpen also pre-warms the server's cache for the file (see server.prewarm).
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types

log = logging.getLogger("codefill.lsp.sync")

DOCUMENT_REQUEST = "codefill/document"


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls, params: types.DidOpenTextDocumentParams) -> None:
        doc = ls.documents.open(params.text_document)
        log.debug("opened %s (%s, %d characters)", doc.uri, doc.language_id, len(doc.text))
        ls.prewarm(doc)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls, params: types.DidChangeTextDocumentParams) -> None:
        if ls.documents.change(params) is None:
            log.warning("didChange for %s, which is not open: ignored", params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls, params: types.DidCloseTextDocumentParams) -> None:
        ls.documents.close(params.text_document.uri)

    @server.feature(DOCUMENT_REQUEST)
    def document(ls, params: Any) -> dict | None:
        """{"uri"} -> {"uri", "version", "languageId", "text"} or null if not open."""
        uri = params.uri if hasattr(params, "uri") else params["uri"]
        doc = ls.documents.get(uri)
        if doc is None:
            return None
        return {"uri": doc.uri, "version": doc.version, "languageId": doc.language_id, "text": doc.text}
