"""textDocument/completion: the completion as one item of the completion menu,
for clients without inline completion (Helix, older Neovim, lsp-mode < 9).

The item's edit starts at the start of the word being typed and puts that
word back in front of the completion. Clients filter menu items by the word
before the cursor, and some (Neovim's omnifunc) replace that word with the
item's text whatever its range says; with the word in front, both keep the
item and insert the right text. The list is marked incomplete because the
completion changes with every character typed.
"""

from __future__ import annotations

import re

from lsprotocol import types

TRIGGER_CHARACTERS = [".", "(", "[", "{", ",", ":", "="]
_WORD_BEFORE = re.compile(r"[\w$]*$")
_LABEL_CHARS = 80


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_COMPLETION,
                    types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS, resolve_provider=False))
    async def completion(ls, params: types.CompletionParams) -> types.CompletionList:
        answer = await ls.complete_at(params.text_document.uri, params.position)
        if answer is None:
            return types.CompletionList(is_incomplete=True, items=[])
        word = _WORD_BEFORE.search(answer.context.prefix.rsplit("\n", 1)[-1]).group()
        start = types.Position(answer.cursor.line, answer.cursor.character - _units(word, ls.documents.encoding))
        text = word + answer.text
        return types.CompletionList(is_incomplete=True, items=[
            types.CompletionItem(
                label=label_for(text),
                kind=types.CompletionItemKind.Text,
                detail="codefill",
                documentation=_documentation(ls, text, answer.context.language),
                filter_text=text,
                sort_text="0",
                preselect=True,
                insert_text_format=types.InsertTextFormat.PlainText,
                text_edit=types.TextEdit(range=types.Range(start=start, end=answer.cursor), new_text=text),
            )
        ])


def _documentation(ls, text: str, language: str) -> types.MarkupContent | str:
    """The whole completion, for the menu's side panel: a code block where
    the client renders markdown, the bare text where it does not."""
    caps = ls.client_capabilities.text_document
    item_caps = caps.completion.completion_item if caps and caps.completion else None
    if item_caps and types.MarkupKind.Markdown in (item_caps.documentation_format or []):
        return types.MarkupContent(kind=types.MarkupKind.Markdown, value=f"```{language}\n{text}\n```")
    return text


def label_for(text: str) -> str:
    """The first line with code on it, shortened for the menu."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "") or "(blank line)"
    more = "…" if len(line) > _LABEL_CHARS or len(text.strip().splitlines()) > 1 else ""
    return line[:_LABEL_CHARS] + more


def _units(text: str, encoding: str) -> int:
    if encoding == types.PositionEncodingKind.Utf8:
        return len(text.encode("utf-8"))
    if encoding == types.PositionEncodingKind.Utf16:
        return len(text.encode("utf-16-le")) // 2
    return len(text)
