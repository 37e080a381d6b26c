"""The language server: pygls wiring, settings, and the one path every
completion takes (document -> context -> session -> codefill server -> status),
and the one every next edit takes (document and edit history -> session's
next-edit lane -> codefill server -> edits against the document as asked).

The LSP methods live one per module (lifecycle.py, configuration.py, sync.py,
inline.py, inline_edit.py, completion.py, debug.py); create_server builds the
server from them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method

from codefill import __version__

from . import next_edit
from .api import CodefillAPI, NextEditAnswer, ServerProblem
from .context import CompletionContext, build_context, display_path, prewarm_context, with_selected
from .documents import Document, DocumentStore
from .history import EditHistory
from .next_edit import NextEditStats, Proposal
from .session import Session
from .settings import SECTION, Settings, merge
from .status import ServerStatus

log = logging.getLogger("codefill.lsp")


class BridgeProtocol(LanguageServerProtocol):
    """pygls keeps its own copy of every open document; the bridge keeps one
    that follows LSP line endings (documents.py). Skip pygls's copy so a
    keystroke is applied once, not twice."""

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams):
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams):
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None


@dataclass
class Answer:
    text: str
    context: CompletionContext
    cursor: types.Position
    line_end: types.Position
    """Positions as they were when the request came: the document may have changed since."""


class CodefillLanguageServer(LanguageServer):
    def __init__(self, settings: Settings) -> None:
        super().__init__("codefill", __version__, protocol_cls=BridgeProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.settings = settings
        self.documents = DocumentStore()
        self.history = EditHistory()
        self.next_edits = NextEditStats()
        # The last next edit proposed, reused by inline completions at the same document version.
        self.last_proposal: Proposal | None = None
        self.session = Session()
        self.api = CodefillAPI(self.session.id)
        self.status = ServerStatus(self.show)
        self.roots: list[str] = []
        self._background: set[asyncio.Task] = set()
        # Set once the settings pulled after `initialized` are in (or there are none).
        self.settings_pulled = asyncio.Event()

    def show(self, kind: types.MessageType, message: str) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def update_settings(self, raw, source: str) -> None:
        old = self.settings
        self.settings, problems = merge(self.settings, raw)
        for problem in problems:
            log.warning("%s: %s", source, problem)
        if problems:
            self.show(types.MessageType.Warning, f"codefill: {source}: " + "; ".join(problems))
        if self.settings != old:
            shown = {k: v for k, v in vars(self.settings).items() if k != "api_key"}
            log.info("settings from %s: %s (api key %s)", source, shown, "set" if self.settings.api_key else "unset")
        if (old.server_url, old.api_key) != (self.settings.server_url, self.settings.api_key):
            # Another server (or key) is a fresh start: its own model, its own
            # outage message, and no edit history made under the old key.
            self.api.forget_model()
            self.status.succeeded()
            self.history.clear()
            self.last_proposal = None

    async def pull_settings(self) -> None:
        """Ask the client for the `codefill` section, if it can answer."""
        workspace = self.client_capabilities.workspace
        if workspace is None or not workspace.configuration:
            return
        request = types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
        try:
            values = await asyncio.wait_for(self.workspace_configuration_async(request), 10)
        except Exception as exc:  # a client that cannot answer must not stop the bridge
            log.info("workspace/configuration failed: %s", exc)
            return
        if values and values[0] is not None:
            self.update_settings(values[0], "workspace/configuration")

    def report(self, problem: ServerProblem) -> None:
        # Nothing is wrong: a newer request took its place, or the answer
        # would have come after the editor stopped waiting (deadlineMs).
        if problem.kind in ("superseded", "deadline"):
            log.debug("%s", problem.message)
        else:
            self.status.failed(problem)

    async def settled(self) -> None:
        """Wait (at startup only) for the settings the client is asked for,
        so the first requests already use the user's server, key and languages."""
        if not self.settings_pulled.is_set():
            try:
                await asyncio.wait_for(self.settings_pulled.wait(), 10)
            except TimeoutError:
                log.info("no settings from workspace/configuration after 10 s; going on without")
                self.settings_pulled.set()

    async def complete_at(self, uri: str, position: types.Position,
                          selected: types.SelectedCompletionInfo | None = None) -> Answer | None:
        """The completion at `position`, or None: unknown document, language
        turned off, superseded by a newer request, or the server failed.
        `selected`: the editor's menu item the user has selected; the answer
        then completes as if it were inserted, and starts with its text."""
        await self.settled()
        doc = self.documents.get(uri)
        settings = self.settings
        if doc is None or not settings.enabled_for(doc.language_id):
            # Still a newer request: the user has moved on from the older one.
            self.session.cancel("completion")
            if doc is None:
                log.info("completion asked for %s, which is not open (no didOpen)", uri)
            else:
                log.debug("language %s is not in the languages setting", doc.language_id)
            return None
        # Built now, from the text as it is at the request, before any await.
        offset = doc.offset_at(position)
        ctx = build_context(self.documents, doc, offset, self.roots)
        start, lead = offset, ""
        if selected is not None:
            ctx, start, lead = with_selected(doc, ctx, offset, selected)
        cursor, line_end = doc.position_at(start), doc.position_at(doc.line_end(doc.line_of(offset)))

        async def ask() -> str | None:
            started = time.monotonic()
            try:
                completion = await self.api.complete(ctx, settings)
            except ServerProblem as problem:
                self.report(problem)
                return None
            self.status.succeeded()
            log.debug("%s:%d:%d -> %r (%s, %.2f s)", ctx.filepath, position.line, position.character,
                      completion.text, completion.finish_reason, time.monotonic() - started)
            return completion.text

        text = await self.session.latest(ask, debounce_s=settings.debounce_ms / 1000)
        if not text:
            return None
        return Answer(lead + text, ctx, cursor, line_end)

    def record_edit(self, doc: Document, before: str, first_line: int, last_line: int) -> None:
        """One change of a didChange, for the edit history."""
        self.history.changed(doc.uri, display_path(doc.uri, self.roots), before, doc.text, first_line, last_line)

    async def next_edit_at(self, uri: str, position: types.Position) -> Proposal | None:
        """The next edits the server proposes for a cursor at `position`, or
        None: unknown document, language turned off, superseded by a newer
        next-edit request, or the server failed."""
        await self.settled()
        doc = self.documents.get(uri)
        settings = self.settings
        if doc is None or not settings.enabled_for(doc.language_id):
            self.session.cancel("next_edit")
            return None
        # Built now, from the text as it is at the request, before any await.
        body = next_edit.request_body(self.documents, doc, doc.offset_at(position), self.roots, self.history)
        if body is None:
            return None
        asked = next_edit.snapshot(doc)
        self.next_edits.requested += 1

        async def ask() -> NextEditAnswer | None:
            started = time.monotonic()
            try:
                try:
                    answer = await self.api.next_edit(body, settings)
                except ServerProblem as problem:
                    if problem.kind != "rejected" or not (problem.param or "").startswith("history"):
                        raise
                    # The history should always be one the server takes; if it
                    # is not, a next edit without it beats none at all.
                    log.warning("the server refused the edit history (%s); asking again without it", problem.message)
                    answer = await self.api.next_edit({**body, "history": []}, settings)
            except ServerProblem as problem:
                self.report(problem)
                return None
            self.status.succeeded()
            log.debug("next edit at %s:%d:%d with %d history events -> %d edits (%.2f s)", body["path"],
                      position.line, position.character, len(body["history"]), len(answer.edits),
                      time.monotonic() - started)
            return answer

        answer = await self.session.latest(ask, lane="next_edit")
        if answer is None:
            return None
        proposal = next_edit.proposal(answer, asked, position)
        if proposal.edits:
            self.next_edits.proposed += 1
        else:
            self.next_edits.empty += 1
        self.last_proposal = proposal
        return proposal

    def prewarm(self, doc: Document) -> None:
        """Have the server read the start of a just-opened file into its KV
        cache (max_tokens 0: no generation), so the first completion in it
        does not pay for the whole prompt."""
        def wanted() -> bool:
            s = self.settings
            return s.prewarm and s.enabled_for(doc.language_id) and bool(doc.text.strip())

        if self.settings_pulled.is_set() and not wanted():
            return
        ctx = prewarm_context(doc, self.roots, self.documents)

        async def warm() -> None:
            await self.settled()
            if not wanted():
                return
            try:
                await self.api.complete(ctx, self.settings, max_tokens=0)
            except ServerProblem as problem:
                self.report(problem)
                return
            self.status.succeeded()
            log.debug("pre-warmed %s (%d characters)", ctx.filepath, len(ctx.prefix))

        task = asyncio.ensure_future(self.session.latest(warm))
        # The event loop holds tasks weakly: keep this one until it is done.
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def create_server(settings: Settings | None = None) -> CodefillLanguageServer:
    from . import completion, configuration, debug, inline, inline_edit, lifecycle, sync

    server = CodefillLanguageServer(settings or Settings())
    for feature in (lifecycle, configuration, sync, inline, inline_edit, completion, debug):
        feature.register(server)
    return server
