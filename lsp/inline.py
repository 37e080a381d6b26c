"""textDocument/inlineCompletion (LSP 3.18): the completion as ghost text.

Neovim 0.12 (vim.lsp.inline_completion), Emacs lsp-mode (lsp-inline-completion),
VS Code and LSP4IJ ask for it. pygls advertises the capability only when the
feature is registered with its options object.

The item replaces the rest of the cursor's line with the completion followed
by that same rest. The edit is the same as inserting at the cursor, but
editors that draw ghost text over the range (Neovim overlays it) then show
the line as it will be, instead of drawing the completion over the code
after the cursor.

When the editor's completion menu is open, `context.selectedCompletionInfo`
names the item the user has selected; the answer then continues that item
and starts with its text, as LSP 3.18 asks.
"""

from __future__ import annotations

from lsprotocol import types


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls, params: types.InlineCompletionParams) -> types.InlineCompletionList:
        selected = params.context.selected_completion_info if params.context else None
        answer = await ls.complete_at(params.text_document.uri, params.position, selected)
        if answer is None:
            return types.InlineCompletionList(items=[])
        return types.InlineCompletionList(items=[
            types.InlineCompletionItem(
                insert_text=answer.text + answer.context.line_suffix,
                range=types.Range(start=answer.cursor, end=answer.line_end),
            )
        ])
