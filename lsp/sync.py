"""Document synchronisation: textDocument/didOpen, textDocument/didChange
(full and incremental) and textDocument/didClose. The bridge's copy of a
document can be read back with `codefill/document` (debug.py).

didOpen also pre-warms the server's cache for the file (see server.prewarm).
Every change also goes into the edit history next edits are asked with
(history.py), and didOpen and didClose tell it that a document came or went.
"""

from __future__ import annotations

import logging
from lsprotocol import types

log = logging.getLogger("codefill.lsp.sync")


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls, params: types.DidOpenTextDocumentParams) -> None:
        doc = ls.documents.open(params.text_document)
        ls.history.document_opened(doc.uri, doc.text)
        log.debug("opened %s (%s, %d characters)", doc.uri, doc.language_id, len(doc.text))
        ls.prewarm(doc)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls, params: types.DidChangeTextDocumentParams) -> None:
        if ls.documents.change(params, ls.record_edit) is None:
            log.warning("didChange for %s, which is not open: ignored", params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls, params: types.DidCloseTextDocumentParams) -> None:
        ls.documents.close(params.text_document.uri)
        ls.history.document_closed(params.text_document.uri)
