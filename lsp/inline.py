"""textDocument/inlineCompletion (LSP 3.18): the completion as ghost text,
and a next edit on the cursor's line as a second item.

Neovim 0.12 (vim.lsp.inline_completion), Emacs lsp-mode (lsp-inline-completion),
Helix and Zed builds with inline completion, VS Code and LSP4IJ ask for it.
pygls advertises the capability only when the feature is registered with its
options object.

The first item is the completion. It replaces the rest of the cursor's line
with the completion followed by that same rest. The edit is the same as
inserting at the cursor, but editors that draw ghost text over the range
(Neovim overlays it) then show the line as it will be, instead of drawing
the completion over the code after the cursor.

When the editor's completion menu is open, `context.selectedCompletionInfo`
names the item the user has selected; the answer then continues that item
and starts with its text, as LSP 3.18 asks (and has no next-edit items).

Next edits (next_edit.py) as items, after the completion: LSP 3.18 items
replace a range on one line that holds the cursor, so only an edit that
starts and ends on the cursor's line can be one; its range is widened to
the cursor. An edit that would leave the line as the completion does is not
repeated. Which next edit, by the `inlineNextEdits` setting:

- `invoked` (default): the one proposed for this very version of the
  document (by textDocument/copilotInlineEdit or an earlier inline request)
  if there is one; otherwise the server is asked only when the user asked
  for a completion (triggerKind Invoked), not on every keystroke: a next edit
  costs the server much more than a completion;
- `always`: as `invoked`, and the server is asked on every request too
  (after the completion, so the completion is never later for it; for
  editors that only speak inlineCompletion, e.g. Zed or Helix);
- `off`: completions only.
"""

from __future__ import annotations

from lsprotocol import types

from .next_edit import inline_item


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls, params: types.InlineCompletionParams) -> types.InlineCompletionList:
        selected = params.context.selected_completion_info if params.context else None
        answer = await ls.complete_at(params.text_document.uri, params.position, selected)
        items = []
        if answer is not None:
            items.append(types.InlineCompletionItem(
                insert_text=answer.text + answer.context.line_suffix,
                range=types.Range(start=answer.cursor, end=answer.line_end),
            ))
        if selected is None:
            items += await next_edit_items(ls, params, items)
        return types.InlineCompletionList(items=items)


async def next_edit_items(ls, params: types.InlineCompletionParams,
                          before: list[types.InlineCompletionItem]) -> list[types.InlineCompletionItem]:
    """Items for the next edits on the cursor's line (see the module's docstring)."""
    uri, cursor = params.text_document.uri, params.position
    mode, doc = ls.settings.inline_next_edits, ls.documents.get(uri)
    if mode == "off" or doc is None:
        return []
    proposal = ls.last_proposal
    if proposal is None or proposal.doc.uri != uri or proposal.doc.version != doc.version:
        invoked = params.context is not None and params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        if mode == "invoked" and not invoked:
            return []
        proposal = await ls.next_edit_at(uri, cursor)
        doc = ls.documents.get(uri)
        if proposal is None or doc is None or proposal.doc.version != doc.version:
            return []  # the user typed on meanwhile: the edits are for a text that is gone
    lines = {_line_after(proposal.doc, item) for item in before}
    items = []
    for edit in proposal.edits:
        item = inline_item(proposal, edit, cursor)
        if item is not None and (line := _line_after(proposal.doc, item)) not in lines:
            lines.add(line)
            items.append(item)
    return items


def _line_after(doc, item: types.InlineCompletionItem) -> str:
    """The cursor's line (and what the item adds after it) once the item is accepted."""
    line = item.range.start.line
    start, end = doc.offset_at(item.range.start), doc.offset_at(item.range.end)
    return doc.text[doc.line_starts[line]:start] + item.insert_text + doc.text[end:doc.line_end(line)]
