"""Next edits the way GitHub Copilot's language server offers them, so that
clients written for it (Neovim's copilot-lsp plugin, copilot.el's NES mode,
Copilot for Xcode and Eclipse) work with the bridge as they are:

- request `textDocument/copilotInlineEdit`, params `{textDocument: {uri,
  version}, position}` (clients may add more, e.g. `context`; ignored) ->
  `{edits: [{text, textDocument: {uri, version}, range, command}]}`, the
  edits in file order (an empty list: nothing to propose). `textDocument`
  carries the version of the text the edits were made for: a client drops
  them if the document has changed since. `command` is what the client runs
  with workspace/executeCommand once the user accepts the edit;
- notification `textDocument/didShowInlineEdit`, params `{item: ...}`, where
  `item` is the shown edit or just `{command}` (copilot-lsp sends the
  latter): counted as shown, with the edit's id (`command.arguments[0]`);
- command `codefill.didAcceptNextEdit` (arguments: the edit's id): counted
  as accepted.

The counts are in `codefill/status` (`nextEdits`); the last request sent to
the server and its answer in `codefill/lastNextEdit` (debug.py).

Shapes as copilot-language-server's README documents them (github/
copilot-language-server-release, "Next Edit Suggestions", release 1.400.0)
and as copilotlsp-nvim/copilot-lsp (lua/copilot-lsp/nes/init.lua) sends and
reads them; its answer's command is Copilot's own telemetry command, ours
counts in the bridge instead. A newer request supersedes an older one still
waiting, as with completions, but in a lane of its own: a next edit never
cancels a completion, nor the other way round.
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from .next_edit import as_copilot_edits

log = logging.getLogger("codefill.lsp.inline_edit")

COPILOT_INLINE_EDIT = "textDocument/copilotInlineEdit"
DID_SHOW_INLINE_EDIT = "textDocument/didShowInlineEdit"
ACCEPT_COMMAND = "codefill.didAcceptNextEdit"


def field(obj: Any, name: str) -> Any:
    """A field of a custom method's params: pygls hands them over as named
    tuples (attributes); a dict, or a missing field, works too."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def register(server) -> None:
    @server.feature(COPILOT_INLINE_EDIT)
    async def copilot_inline_edit(ls, params: Any) -> dict:
        document, position = field(params, "textDocument"), field(params, "position")
        uri, line, character = field(document, "uri"), field(position, "line"), field(position, "character")
        if not isinstance(uri, str) or not isinstance(line, int) or not isinstance(character, int):
            raise JsonRpcInvalidParams(f"{COPILOT_INLINE_EDIT} needs textDocument.uri and position {{line, character}}")
        proposal = await ls.next_edit_at(uri, types.Position(line, character))
        if proposal is None:
            return {"edits": []}
        return {"edits": as_copilot_edits(proposal, ACCEPT_COMMAND)}

    @server.feature(DID_SHOW_INLINE_EDIT)
    def did_show_inline_edit(ls, params: Any) -> None:
        arguments = field(field(field(params, "item"), "command"), "arguments") or []
        ls.next_edits.shown += 1
        ls.next_edits.last_shown = str(arguments[0]) if arguments else None
        log.debug("next edit %s shown", ls.next_edits.last_shown)

    @server.command(ACCEPT_COMMAND)
    def did_accept_next_edit(ls, *arguments) -> None:
        ls.next_edits.accepted += 1
        log.debug("next edit %s accepted", arguments[0] if arguments else None)
