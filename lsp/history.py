"""The edit history a next edit is asked with (`history` of POST /v1/next_edit):
what the user changed lately, in any document, as unified diffs, oldest first.

It is built here, where the editor is, from textDocument/didChange (full and
incremental; documents.py says where each change was), and from didClose.

**Events.** One event is one edit as a person would name it ("renamed the
parameter", "added a line"), not one per keystroke: consecutive changes to a
document go into the open event, which is closed when

- the next change comes after a pause of more than `PAUSE_S` (1.5 s),
- the next change starts more than `NEAR_LINES` (2) lines away from the line
  the previous one ended on (the cursor went somewhere else; the LSP has no
  cursor notifications, so a change is where the cursor is known to be),
- another document is changed, or the document is closed.

A request for a next edit sends the open event too, diffed up to that moment,
and leaves it open: the user may still be typing it.

**Diffs.** `difflib.unified_diff` from before the event to after it, 3 lines
of context, headers `--- a/PATH` and `+++ b/PATH` (PATH as the request's
`path`: relative to the workspace folder). Lines break at the LSP's "\\n",
"\\r\\n" and "\\r" and are written with "\\n" (a CRLF file's diff would
otherwise put a "\\r" in every line of the model's prompt); a last line
without a line break is marked `\\ No newline at end of file`, as git does.
An event that changed nothing in the end (typed, then deleted) is dropped.

**Bounds.** At most `MAX_EVENTS` events and `MAX_BYTES` bytes of diffs (UTF-8)
in all, at most `PER_DOCUMENT` of them from one document; the oldest go
first. An event whose diff alone is over `MAX_EVENT_BYTES` (a large paste, a
reformatted file) is dropped: it would crowd out every other event.

**Closed documents.** Their events are kept, under the same bounds, until
newer ones push them out: an edit just made in a file the user then closed is
often the one the next edit follows (rename a function in one file, fix its
callers in another). The event open when a document closes is closed with it.

**Tenant and session.** One history per bridge, and one bridge per editor:
the history is the editor session's, like the bridge's `user`. It is sent
only with the API key and server in force when it was made: when either
changes, the bridge clears it (server.update_settings), so no edit made under
one key reaches a request made with another.
"""

from __future__ import annotations

import difflib
import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("codefill.lsp.history")

PAUSE_S = 1.5
NEAR_LINES = 2
CONTEXT_LINES = 3
MAX_EVENTS = 16
PER_DOCUMENT = 8
MAX_BYTES = 16_000
MAX_EVENT_BYTES = 8_000

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_HUNK = re.compile(r"^@@ -(\d+)((?:,\d+)?) \+(\d+)((?:,\d+)?) @@")
_NO_NEWLINE = "\n\\ No newline at end of file\n"


@dataclass
class Edit:
    uri: str
    path: str
    diff: str
    size: int
    """The diff's length in UTF-8 bytes."""
    end: int
    """hash() of the text the edit left."""


@dataclass
class _OpenEvent:
    uri: str
    path: str
    before: str
    """The document's text when the event began."""
    after: str
    line: int
    """The line the last change ended on, in `after`."""
    at: float


class EditHistory:
    def __init__(self, clock: Callable[[], float] = time.monotonic, *, max_events: int = MAX_EVENTS,
                 per_document: int = PER_DOCUMENT, max_bytes: int = MAX_BYTES,
                 max_event_bytes: int = MAX_EVENT_BYTES, pause_s: float = PAUSE_S,
                 near_lines: int = NEAR_LINES) -> None:
        self._clock = clock
        self.max_events, self.per_document, self.max_bytes = max_events, per_document, max_bytes
        self.max_event_bytes, self.pause_s, self.near_lines = max_event_bytes, pause_s, near_lines
        self._closed: deque[Edit] = deque()
        self._open: _OpenEvent | None = None

    def changed(self, uri: str, path: str, before: str, after: str, first_line: int, last_line: int) -> None:
        """One change: `before` became `after`; it began on `first_line`
        (of either text) and ended on `last_line` of `after`."""
        now = self._clock()
        event = self._open
        if event is not None and (event.uri != uri or now - event.at > self.pause_s
                                  or abs(first_line - event.line) > self.near_lines):
            self._close()
            event = None
        if event is None:
            self._open = _OpenEvent(uri, path, before, after, last_line, now)
        else:
            event.path, event.after, event.line, event.at = path, after, last_line, now

    def document_opened(self, uri: str, text: str) -> None:
        """A document (re)opened: if its text is not what its last edit left
        (the file changed on disk meanwhile), its edits no longer lead to it
        and are dropped."""
        ends = [e.end for e in self._closed if e.uri == uri]
        if ends and ends[-1] != hash(text):
            self._forget(uri)

    def document_closed(self, uri: str) -> None:
        if self._open is not None and self._open.uri == uri:
            self._close()

    def clear(self) -> None:
        self._closed.clear()
        self._open = None

    def events(self) -> list[dict[str, str]]:
        """The history to send, oldest first: the closed events and the open
        one diffed up to now, within the bounds."""
        edits = list(self._closed)
        if self._open is not None and (edit := self._edit(self._open)) is not None:
            if edit.size > self.max_event_bytes:
                edits = [e for e in edits if e.uri != edit.uri]
            else:
                edits.append(edit)
                _bound(edits, self.max_events, self.per_document, self.max_bytes)
        return [{"path": e.path, "diff": e.diff} for e in edits]

    def _close(self) -> None:
        event, self._open = self._open, None
        if event is None or (edit := self._edit(event)) is None:
            return
        if edit.size > self.max_event_bytes:
            # The document's older edits end at a text it no longer has: a
            # server checks the newest one against the text, so they go too.
            log.debug("an edit of %s with a %d-byte diff is left out of the history", edit.path, edit.size)
            self._forget(edit.uri)
            return
        edits = [*self._closed, edit]
        _bound(edits, self.max_events, self.per_document, self.max_bytes)
        self._closed = deque(edits)

    def _forget(self, uri: str) -> None:
        self._closed = deque(e for e in self._closed if e.uri != uri)

    def _edit(self, event: _OpenEvent) -> Edit | None:
        """The event as an edit (None when it changed nothing in the end)."""
        diff = unified_diff(event.path, event.before, event.after)
        if not diff:
            return None
        return Edit(event.uri, event.path, diff, len(diff.encode("utf-8")), hash(event.after))


def _bound(edits: list[Edit], max_events: int, per_document: int, max_bytes: int) -> None:
    """Drop the oldest edits (in place) until every bound holds."""
    counts: dict[str, int] = {}
    for e in edits:
        counts[e.uri] = counts.get(e.uri, 0) + 1
    total = sum(e.size for e in edits)
    i = 0
    while i < len(edits):
        e = edits[i]
        if len(edits) > max_events or total > max_bytes or counts[e.uri] > per_document:
            del edits[i]
            counts[e.uri] -= 1
            total -= e.size
        else:
            i += 1


def unified_diff(path: str, before: str, after: str, context: int = CONTEXT_LINES) -> str:
    """The unified diff from `before` to `after` ("" when they are the same
    text, line breaks aside). Lines both texts share at their start and end,
    past the context, are cut off before difflib sees them (a keystroke in a
    large file costs the size of the change, not of the file); the hunk
    headers are shifted back to the file's line numbers."""
    a, b = _lines(before), _lines(after)
    shortest = min(len(a), len(b))
    head = 0
    while head < shortest and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < shortest - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    skip, cut = max(0, head - context), max(0, tail - context)
    name = path.lstrip("/")  # a file outside the workspace: a/tmp/x.py, as git writes it, not a//tmp/x.py
    out = []
    for line in difflib.unified_diff(a[skip:len(a) - cut], b[skip:len(b) - cut], f"a/{name}", f"b/{name}",
                                     n=context):
        if line.startswith("@@") and skip:
            line = _HUNK.sub(lambda m: f"@@ -{int(m[1]) + skip}{m[2]} +{int(m[3]) + skip}{m[4]} @@", line)
        out.append(line if line.endswith("\n") else line + _NO_NEWLINE)
    return "".join(out)


def _lines(text: str) -> list[str]:
    """The text's lines, each ending "\\n" except a last one without a line break."""
    parts = _LINE_BREAK.split(text)
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines
