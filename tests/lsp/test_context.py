"""The prompt window for textDocument/inlineCompletion and
textDocument/completion: stable line anchors, prefix/suffix, extra context."""

from __future__ import annotations

from lsprotocol import types

from codefill.lsp.context import (
    ANCHOR_LINES,
    MAX_PREFIX_CHARS,
    PREFIX_LINES,
    SUFFIX_LINES,
    build_context,
    display_path,
    prewarm_context,
    window_start,
    with_selected,
)
from codefill.lsp.documents import DocumentStore

ROOTS = ["file:///home/dev/project"]


def open_doc(store: DocumentStore, name: str, text: str, language: str = "python"):
    return store.open(types.TextDocumentItem(uri=f"file:///home/dev/project/{name}", language_id=language,
                                             version=1, text=text))


def numbered(n: int) -> str:
    return "".join(f"line_{i} = {i}\n" for i in range(n))


def test_short_document_is_sent_whole():
    store = DocumentStore()
    doc = open_doc(store, "a.py", "def f():\n    return 1\n\nprint(f())\n")
    ctx = build_context(store, doc, len("def f():\n    return"), ROOTS)
    assert ctx.prefix == "def f():\n    return"
    assert ctx.suffix == " 1\n\nprint(f())\n"
    assert ctx.line_suffix == " 1"
    assert (ctx.language, ctx.filepath, ctx.extra) == ("python", "a.py", [])


def test_window_starts_on_an_anchor_that_typing_does_not_move():
    store = DocumentStore()
    doc = open_doc(store, "a.py", numbered(1000))
    starts = set()
    for line in range(500, 500 + ANCHOR_LINES):
        start = window_start(line)
        assert start % ANCHOR_LINES == 0
        assert PREFIX_LINES <= line - start < PREFIX_LINES + ANCHOR_LINES
        starts.add(start)
    # Moving down one line at a time changes the window's first line once per ANCHOR_LINES.
    assert len(starts) <= 2
    cursor = doc.line_starts[500] + 3
    ctx = build_context(store, doc, cursor, ROOTS)
    assert ctx.prefix == doc.text[doc.line_starts[window_start(500)]:cursor]
    assert ctx.prefix.startswith(f"line_{window_start(500)} =")
    # The suffix ends on a line boundary at least SUFFIX_LINES below the cursor.
    assert ctx.suffix.endswith("\n")
    assert ctx.suffix.count("\n") - 1 >= SUFFIX_LINES
    assert (500 + ctx.suffix.count("\n")) % ANCHOR_LINES == 0  # the line after it is an anchor


def test_typing_keeps_the_prefix_start_identical():
    store = DocumentStore()
    doc = open_doc(store, "a.py", numbered(300))
    first = build_context(store, doc, doc.line_starts[200], ROOTS)
    later = build_context(store, doc, doc.line_starts[205] + 4, ROOTS)
    assert later.prefix.startswith(first.prefix)


def test_a_huge_line_is_cut_to_the_limit():
    store = DocumentStore()
    doc = open_doc(store, "min.js", "x" * (MAX_PREFIX_CHARS * 3), "javascript")
    ctx = build_context(store, doc, len(doc.text), ROOTS)
    assert len(ctx.prefix) == MAX_PREFIX_CHARS


def test_extra_context_comes_from_other_documents_around_their_last_edit():
    store = DocumentStore()
    helper = open_doc(store, "pkg/helpers.py", numbered(200))
    helper.apply(types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(150, 0), types.Position(150, 0)), text="def parse_config(path):\n"))
    open_doc(store, "notes.md", "   \n", "markdown")  # blank: nothing worth sending
    current = open_doc(store, "main.py", "import helpers\n")
    ctx = build_context(store, current, len(current.text), ROOTS)
    assert [e["filename"] for e in ctx.extra] == ["pkg/helpers.py"]
    assert "def parse_config(path):" in ctx.extra[0]["text"]
    assert "line_0 =" not in ctx.extra[0]["text"]


def test_extra_context_puts_the_most_recently_touched_first():
    store = DocumentStore()
    a = open_doc(store, "a.py", "A = 1\n")
    open_doc(store, "b.py", "B = 2\n")
    a.apply(types.TextDocumentContentChangeWholeDocument(text="A = 3\n"))
    current = open_doc(store, "c.py", "")
    assert [e["filename"] for e in build_context(store, current, 0, ROOTS).extra] == ["a.py", "b.py"]


def test_prewarm_sends_the_start_every_early_cursor_shares():
    store = DocumentStore()
    doc = open_doc(store, "a.py", numbered(500))
    warm = prewarm_context(doc, ROOTS)
    assert warm.suffix == ""
    assert warm.prefix.count("\n") == PREFIX_LINES
    for line in (0, 10, PREFIX_LINES - 1):
        ctx = build_context(store, doc, doc.line_starts[line] + 2, ROOTS)
        assert warm.prefix.startswith(ctx.prefix[: ctx.prefix.rfind("\n") + 1])


def test_display_path():
    assert display_path("file:///home/dev/project/src/app.py", ROOTS) == "src/app.py"
    assert display_path("file:///elsewhere/x%20y.py", ROOTS) == "/elsewhere/x y.py"
    assert display_path("untitled:Untitled-1", ROOTS) == "untitled:Untitled-1"
    # A sibling folder that shares the root's name as a prefix is not inside it.
    assert display_path("file:///home/dev/project2/a.py", ROOTS) == "/home/dev/project2/a.py"


def test_with_selected_completes_as_if_the_menu_item_were_inserted():
    store = DocumentStore()
    doc = open_doc(store, "a.py", "x = math.sq(2)\n")
    offset = len("x = math.sq")
    ctx = build_context(store, doc, offset, ROOTS)
    item = types.SelectedCompletionInfo(range=types.Range(types.Position(0, 9), types.Position(0, 11)), text="sqrt")
    moved, start, lead = with_selected(doc, ctx, offset, item)
    assert (moved.prefix, moved.suffix, moved.line_suffix) == ("x = math.sqrt", "(2)\n", "(2)")
    assert (start, lead) == (9, "sqrt")
    # A range that does not hold the cursor on its line is not one to extend.
    elsewhere = types.SelectedCompletionInfo(range=types.Range(types.Position(0, 0), types.Position(0, 1)), text="y")
    assert with_selected(doc, ctx, offset, elsewhere) == (ctx, offset, "")
