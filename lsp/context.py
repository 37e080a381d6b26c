"""What the server is shown for a completion at a cursor: the code before it
(`prompt`), the code after it (`suffix`), and snippets of other open files
(`input_extra`), for textDocument/inlineCompletion and textDocument/completion.

The window is cut on line boundaries that stay put while the user types: its
first line only moves in steps of `ANCHOR_LINES`, so consecutive requests
start with the same text and the server reuses its KV cache for all of it.
A window that slid with the cursor would change its first token on every new
line and make the server recompute the whole prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urlparse

from lsprotocol import types

from .documents import Document, DocumentStore

PREFIX_LINES = 120
SUFFIX_LINES = 40
ANCHOR_LINES = 32
# Guards against minified files: a 5 MB line would exceed the server's body limit.
MAX_PREFIX_CHARS = 24_000
MAX_SUFFIX_CHARS = 8_000
EXTRA_DOCUMENTS = 3
EXTRA_LINES = 40
EXTRA_CHARS = 6_000


@dataclass(frozen=True)
class CompletionContext:
    prefix: str
    suffix: str
    language: str
    filepath: str
    line_suffix: str
    """The rest of the cursor's line: an inline item replaces it (see inline.py)."""
    extra: list[dict[str, str]] = field(default_factory=list)


def window_start(line: int) -> int:
    """First line of the prefix for a cursor on `line`: at least PREFIX_LINES
    back, snapped down to a multiple of ANCHOR_LINES."""
    start = max(0, line - PREFIX_LINES)
    return start - start % ANCHOR_LINES


def window_end(line: int, line_count: int) -> int:
    """Line after the last line of the suffix, snapped up like the start."""
    end = line + 1 + SUFFIX_LINES
    end += -end % ANCHOR_LINES
    return min(end, line_count)


def build_context(store: DocumentStore, doc: Document, offset: int, roots: list[str]) -> CompletionContext:
    line = doc.line_of(offset)
    start = doc.line_starts[window_start(line)]
    end_line = window_end(line, doc.line_count)
    end = doc.line_starts[end_line] if end_line < doc.line_count else len(doc.text)
    prefix = doc.text[start:offset][-MAX_PREFIX_CHARS:]
    suffix = doc.text[offset:end][:MAX_SUFFIX_CHARS]
    return CompletionContext(
        prefix=prefix,
        suffix=suffix,
        language=doc.language_id,
        filepath=display_path(doc.uri, roots),
        line_suffix=doc.text[offset:doc.line_end(line)],
        extra=extra_context(store, doc, roots),
    )


def prewarm_context(doc: Document, roots: list[str], store: DocumentStore | None = None) -> CompletionContext:
    """The prompt a cursor anywhere in the file's first PREFIX_LINES lines
    starts with: sending it once makes the server cache it. The other open
    documents go with it as they would with a completion (`store`), since the
    server puts their declarations at the head of the prompt."""
    end_line = min(PREFIX_LINES, doc.line_count)
    end = doc.line_starts[end_line] if end_line < doc.line_count else len(doc.text)
    return CompletionContext(prefix=doc.text[:end][:MAX_PREFIX_CHARS], suffix="", language=doc.language_id,
                             filepath=display_path(doc.uri, roots), line_suffix="",
                             extra=extra_context(store, doc, roots) if store is not None else [])


def with_selected(doc: Document, ctx: CompletionContext, offset: int,
                  selected: types.SelectedCompletionInfo) -> tuple[CompletionContext, int, str]:
    """The context as if the selected menu item were inserted (its range on
    the cursor's line replaced by its text): LSP 3.18 asks inline items to
    extend it. Returns the context, where the answer starts, and its lead text."""
    start, end = doc.offset_at(selected.range.start), doc.offset_at(selected.range.end)
    line = doc.line_of(offset)
    if not (start <= offset <= end and doc.line_of(start) == line == doc.line_of(end)):
        return ctx, offset, ""
    kept = max(0, len(ctx.prefix) - (offset - start))
    cut = end - offset
    return (replace(ctx, prefix=ctx.prefix[:kept] + selected.text, suffix=ctx.suffix[cut:],
                    line_suffix=ctx.line_suffix[cut:]), start, selected.text)


def extra_context(store: DocumentStore, doc: Document, roots: list[str]) -> list[dict[str, str]]:
    """Snippets from the other open documents the user touched last, around
    where each was last edited: code the user is working with, and likely
    names the completion needs."""
    out: list[dict[str, str]] = []
    budget = EXTRA_CHARS
    for other in store.others(doc.uri)[:EXTRA_DOCUMENTS]:
        first = max(0, other.last_edit_line - EXTRA_LINES // 2)
        last = min(other.line_count, first + EXTRA_LINES)
        end = other.line_starts[last] if last < other.line_count else len(other.text)
        text = other.text[other.line_starts[first]:end][:budget]
        if not text.strip():
            continue
        out.append({"filename": display_path(other.uri, roots), "text": text})
        budget -= len(text)
        if budget <= 0:
            break
    return out


def display_path(uri: str, roots: list[str]) -> str:
    """The document's path relative to its workspace folder when it has one
    (what a model trained on repositories saw), else its full path or URI."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return uri
    path = unquote(parsed.path)
    for root in sorted(roots, key=len, reverse=True):
        base = unquote(urlparse(root).path).rstrip("/")
        if base and path.startswith(base + "/"):
            return path[len(base) + 1:]
    return path
