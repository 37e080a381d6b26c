"""Requests for finding out what the bridge thinks, from an editor's command
line or a test: `codefill/document` (the bridge's copy of a document, to
compare with the editor's), `codefill/status` (its settings, session and
what it knows of the server), `codefill/lastRequest` (the body of the last
completion request it sent the server, to see what the model was asked) and
`codefill/lastAnswer` (the text the server answered it, before the bridge
fitted it to the editor) and `codefill/lastNextEdit` (the last next-edit
request, history included, and the server's answer)."""

from __future__ import annotations

from typing import Any

DOCUMENT_REQUEST = "codefill/document"
STATUS_REQUEST = "codefill/status"
LAST_REQUEST = "codefill/lastRequest"
LAST_ANSWER = "codefill/lastAnswer"
LAST_NEXT_EDIT = "codefill/lastNextEdit"


def register(server) -> None:
    @server.feature(DOCUMENT_REQUEST)
    def document(ls, params: Any) -> dict | None:
        """{"uri"} -> {"uri", "version", "languageId", "text"}, or null if not open."""
        uri = params.uri if hasattr(params, "uri") else params["uri"]
        doc = ls.documents.get(uri)
        if doc is None:
            return None
        return {"uri": doc.uri, "version": doc.version, "languageId": doc.language_id, "text": doc.text}

    @server.feature(LAST_REQUEST)
    def last_request(ls, params: Any) -> dict | None:
        """The body of the last completion request sent to the server (null: none yet)."""
        return ls.api.last_request

    @server.feature(LAST_ANSWER)
    def last_answer(ls, params: Any) -> str | None:
        """The text the server answered the last completion request (null: none yet, or it failed)."""
        return ls.api.last_answer

    @server.feature(LAST_NEXT_EDIT)
    def last_next_edit(ls, params: Any) -> dict | None:
        """{"request": body sent to POST /v1/next_edit, "answer": its JSON (null: it failed)}; null: none yet."""
        return ls.api.last_next_edit

    @server.feature(STATUS_REQUEST)
    def status(ls, params: Any) -> dict:
        settings = {k: v for k, v in vars(ls.settings).items() if k != "api_key"}
        settings["api_key"] = "set" if ls.settings.api_key else None
        problem = ls.status.problem
        return {
            "session": ls.session.id,
            "settings": settings,
            "serverHealthy": ls.status.healthy,
            "lastProblem": problem.message if problem else None,
            "positionEncoding": ls.documents.encoding,
            "workspaceFolders": ls.roots,
            "openDocuments": len(ls.documents),
            "nextEdits": ls.next_edits.report(),
            "historyEvents": len(ls.history.events()),
        }
