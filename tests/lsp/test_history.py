"""The edit history next edits are asked with (codefill.lsp.history): events
built from didChange as the document store applies it (incremental and
full, CRLF, UTF-16 positions), coalescing, bounds, closed documents, and
diffs that `patch` applies."""

from __future__ import annotations

import random
import re
import shutil
import subprocess

import pytest
from lsprotocol import types

from codefill.lsp.documents import DocumentStore, _changed_part
from codefill.lsp.history import EditHistory, unified_diff
from tests.lsp.bridge_helpers import lsp_position

UTF16 = types.PositionEncodingKind.Utf16


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Typist:
    """A document store and a history fed the way sync.py feeds them, and an
    editor's own copy of the text to send changes against."""

    def __init__(self, history: EditHistory | None = None, encoding: str = UTF16) -> None:
        self.clock = Clock()
        self.history = history or EditHistory(self.clock)
        self.store = DocumentStore()
        self.store.encoding = encoding
        self.texts: dict[str, str] = {}
        self.versions: dict[str, int] = {}

    def open(self, name: str, text: str) -> str:
        uri = f"file:///p/{name}"
        self.store.open(types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text))
        self.history.document_opened(uri, text)
        self.texts[uri], self.versions[uri] = text, 1
        return uri

    def close(self, uri: str) -> None:
        self.store.close(uri)
        self.history.document_closed(uri)

    def edit(self, uri: str, start: int, end: int, new: str, *, after: float = 0.2) -> None:
        text = self.texts[uri]
        change = types.TextDocumentContentChangePartial(range=types.Range(
            lsp_position(text, start, self.store.encoding), lsp_position(text, end, self.store.encoding)), text=new)
        self._send(uri, change, text[:start] + new + text[end:], after)

    def replace_all(self, uri: str, text: str, *, after: float = 0.2) -> None:
        self._send(uri, types.TextDocumentContentChangeWholeDocument(text=text), text, after)

    def type(self, uri: str, offset: int, text: str, *, every: float = 0.1) -> int:
        for ch in text:
            self.edit(uri, offset, offset, ch, after=every)
            offset += 1
        return offset

    def _send(self, uri, change, text: str, after: float) -> None:
        self.clock.now += after
        self.texts[uri] = text
        self.versions[uri] += 1
        self.store.change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            content_changes=[change]),
            lambda doc, before, first, last: self.history.changed(doc.uri, doc.uri.rsplit("/", 1)[-1], before,
                                                                   doc.text, first, last))
        assert self.store.get(uri).text == text


def lf(text: str) -> str:
    return re.sub(r"\r\n|\r", "\n", text)


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch(1)")
@pytest.mark.parametrize("seed", range(12))
def test_diffs_apply_with_patch_and_give_the_text_after(tmp_path, seed):
    """Random edits of a random file (CRLF, a last line with or without a
    line break, long enough that the unchanged head and tail are cut off
    before difflib): GNU patch turns the text before into the text after."""
    rng = random.Random(seed)
    words = ["x = 1", "def f(a):", "    return a", "", "# 😀 é", "}", "pass"]
    lines = [rng.choice(words) + f" {i}" * rng.randint(0, 1) for i in range(rng.randint(1, 60))]
    before = rng.choice(["\n", "\r\n"]).join(lines) + rng.choice(["", "\n", "\r\n"])
    after = before
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(after))
        end = min(len(after), at + rng.randint(0, 12))
        after = after[:at] + rng.choice(["", "y", "\n", "new line\n", "z\r\n"]) + after[end:]
    diff = unified_diff("m.py", before, after)
    if lf(before) == lf(after):
        assert diff == ""
        return
    assert "\r" not in diff.replace("\\r", "")
    (tmp_path / "m.py").write_bytes(lf(before).encode())
    (tmp_path / "d.diff").write_bytes(diff.encode())
    subprocess.run(["patch", "-s", "-p1", "-i", "d.diff"], cwd=tmp_path, check=True, timeout=10)
    assert (tmp_path / "m.py").read_bytes().decode() == lf(after)


def test_hunk_headers_count_from_the_files_first_line():
    before = "".join(f"line {i}\n" for i in range(100))
    after = before.replace("line 50\n", "line fifty\n")
    diff = unified_diff("big.py", before, after)
    assert diff.splitlines()[:3] == ["--- a/big.py", "+++ b/big.py", "@@ -48,7 +48,7 @@"]
    assert "-line 50\n+line fifty\n" in diff


def test_a_path_outside_the_workspace_is_written_as_git_does():
    assert unified_diff("/tmp/x.py", "a\n", "b\n").startswith("--- a/tmp/x.py\n+++ b/tmp/x.py\n")


def test_a_document_with_no_line_break_at_its_end_is_marked_as_git_does():
    assert unified_diff("a.py", "a\nb", "a\nc") == (
        "--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n"
        "\\ No newline at end of file\n")


def test_keystrokes_in_one_place_make_one_event_with_utf16_positions():
    t = Typist()
    uri = t.open("a.py", "# 😀 emoji\ndef f(a):\n    return a\n")
    at = t.texts[uri].index("(a)") + 2
    t.type(uri, at, ", b")
    t.edit(uri, t.texts[uri].index("a\n") + 1, t.texts[uri].index("a\n") + 1, " + b")
    (event,) = t.history.events()
    assert event == {"path": "a.py", "diff": "--- a/a.py\n+++ b/a.py\n@@ -1,3 +1,3 @@\n # 😀 emoji\n"
                                             "-def f(a):\n-    return a\n+def f(a, b):\n+    return a + b\n"}


def test_an_event_closes_after_a_pause_and_when_the_edits_move_elsewhere():
    t = Typist()
    uri = t.open("a.py", "".join(f"v{i} = {i}\n" for i in range(20)))
    t.type(uri, t.texts[uri].index("v1 ="), "a")
    t.type(uri, t.texts[uri].index("v1 ="), "b", every=3.0)           # same place, after a pause
    t.type(uri, t.texts[uri].index("v15 ="), "c")                     # far away
    t.type(uri, t.texts[uri].index("v16 ="), "d")                     # the next line: same event
    diffs = [e["diff"] for e in t.history.events()]
    assert len(diffs) == 3
    assert "+av1 = 1" in diffs[0] and "-av1 = 1\n+abv1 = 1" in diffs[1]
    assert "+cv15 = 15\n+dv16 = 16" in diffs[2]


def test_an_event_closes_when_another_document_changes_and_the_open_one_is_sent_too():
    t = Typist()
    a, b = t.open("a.py", "x = 1\n"), t.open("b.py", "y = 2\n")
    t.edit(a, 4, 5, "10")
    t.edit(b, 4, 5, "20")
    assert [e["path"] for e in t.history.events()] == ["a.py", "b.py"]
    # Asking does not close the open event: typing on extends it.
    t.edit(b, 7, 7, "z = 3\n")
    events = t.history.events()
    assert len(events) == 2 and "+y = 20\n+z = 3" in events[1]["diff"]


def test_whole_document_changes_are_located_and_coalesced_like_incremental_ones():
    t = Typist()
    uri = t.open("a.py", "a = 1\nb = 2\nc = 3\n")
    t.replace_all(uri, "a = 1\nb = 22\nc = 3\n")
    t.replace_all(uri, "a = 1\nb = 222\nc = 3\n")
    (event,) = t.history.events()
    assert "-b = 2\n+b = 222\n" in event["diff"]
    assert t.store.get(uri).last_edit_line == 1


def test_crlf_documents_give_diffs_without_carriage_returns():
    t = Typist()
    uri = t.open("w.py", "a = 1\r\nb = 2\r\n")
    t.edit(uri, t.texts[uri].index("2"), t.texts[uri].index("2") + 1, "3")
    (event,) = t.history.events()
    assert event["diff"].endswith("@@ -1,2 +1,2 @@\n a = 1\n-b = 2\n+b = 3\n")
    # A change of line breaks alone is no edit.
    t.replace_all(uri, "a = 1\nb = 3\n", after=5)
    assert len(t.history.events()) == 1


def test_what_was_typed_and_deleted_again_is_no_event():
    t = Typist()
    uri = t.open("a.py", "x = 1\n")
    end = t.type(uri, 5, "23")
    t.edit(uri, 5, end, "")
    assert t.history.events() == []


def test_bounds_keep_the_newest_events():
    clock = Clock()
    t = Typist(EditHistory(clock, max_events=5, per_document=3, max_bytes=100_000))
    a, b = t.open("a.py", "a\n" * 100), t.open("b.py", "b\n" * 100)
    for i in range(6):
        t.edit(a, i * 2 * 10, i * 2 * 10 + 1, "A", after=2)
    assert len(t.history.events()) == 3  # per document
    for i in range(3):
        t.edit(b, i * 2 * 10, i * 2 * 10 + 1, "B", after=2)
    events = t.history.events()
    assert [e["path"] for e in events] == ["a.py", "a.py", "b.py", "b.py", "b.py"]  # in all
    # The newest events are kept: the last edits of a.py were on lines 40 and 50.
    assert "+A" in events[0]["diff"] and "@@ -38," in events[0]["diff"]


def test_the_byte_bound_and_an_oversized_event_which_takes_its_documents_older_edits_along():
    clock = Clock()
    t = Typist(EditHistory(clock, max_events=20, per_document=20, max_bytes=600, max_event_bytes=400))
    a, b = t.open("a.py", "x\n" * 50), t.open("b.py", "y\n" * 50)
    for i in range(12):
        t.edit(a, i * 8, i * 8 + 1, "X", after=2)
    events = t.history.events()
    assert sum(len(e["diff"].encode()) for e in events) <= 600 and 0 < len(events) < 12
    t.edit(b, 0, 1, "Y", after=2)
    t.edit(a, 0, 0, "long line\n" * 60, after=2)  # a paste
    t.edit(b, 2, 3, "Y", after=2)
    # a.py's edits before the paste end at a text a.py no longer has: gone.
    assert [e["path"] for e in t.history.events()] == ["b.py", "b.py"]


def test_a_closed_documents_events_stay_until_it_reopens_with_other_text():
    t = Typist()
    a, b = t.open("a.py", "def f(): pass\n"), t.open("b.py", "f()\n")
    t.edit(a, 4, 5, "g")
    t.close(a)
    t.edit(b, 0, 1, "g", after=5)
    assert [e["path"] for e in t.history.events()] == ["a.py", "b.py"]
    t.open("a.py", "def g(): pass\n")  # as it was left: kept
    assert len(t.history.events()) == 2
    t.close(a)
    t.open("a.py", "def h(): pass\n")  # changed on disk meanwhile: dropped
    assert [e["path"] for e in t.history.events()] == ["b.py"]


def test_clear_forgets_everything():
    t = Typist()
    uri = t.open("a.py", "x\n")
    t.edit(uri, 0, 1, "y")
    t.history.clear()
    assert t.history.events() == []


@pytest.mark.parametrize("seed", range(30))
def test_the_changed_part_of_a_whole_document_change(seed):
    rng = random.Random(seed)
    old = "".join(rng.choice("ab\r\n😀") for _ in range(rng.randint(0, 30)))
    new = old
    at = rng.randint(0, len(new))
    new = new[:at] + "".join(rng.choice("ab\n") for _ in range(rng.randint(0, 4))) + new[at + rng.randint(0, 3):]
    start, end, text = _changed_part(old, new)
    assert old[:start] + text + old[end:] == new
    assert start <= end <= len(old) and len(text) <= len(new)
