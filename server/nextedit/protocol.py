"""Request and response shapes of `POST /v1/next_edit`.

The editor sends the file (or a window of it, `text_offset` lines down), the
cursor, the recent edits as unified diffs (oldest first) and optionally other
files; the server answers the edits it predicts next, each a range of the
file and the text that replaces it, or `no_edit: true`. Positions are
zero-based lines and characters counted in UTF-16 code units, as LSP, VS Code,
Monaco and JetBrains count them. The bounds here (history count and bytes,
related files) are checked by pydantic; what needs the text (the cursor
inside it, diffs that parse and apply) is checked by history.py and the
service, each naming the parameter at fault.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from ..api.protocol import CompletionUsage, DeadlineMs, ParamError

MAX_HISTORY_EVENTS = 64
MAX_HISTORY_BYTES = 64 * 1024
MAX_RELATED_FILES = 16
MAX_RELATED_BYTES = 128 * 1024
MAX_PATH_CHARS = 1024

FormatName = Literal["zeta", "zeta2", "sweep", "instinct"]


class Position(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    line: int = Field(ge=0)
    """Zero-based line of the file (not of the window: `text_offset` is added)."""
    character: int = Field(ge=0)
    """Zero-based column in UTF-16 code units."""


class Range(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: Position
    end: Position


class HistoryEvent(BaseModel):
    """One edit the user made: a file and a unified diff of it (hunks, with or without ---/+++ headers)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    path: str = Field(min_length=1, max_length=MAX_PATH_CHARS)
    """The edited file's path, as the editor names it (the same spelling as `path` for the current file)."""
    diff: str = Field(min_length=1)
    """The edit as a unified diff of that file (`@@ -a,b +c,d @@` hunks)."""


class RelatedFile(BaseModel):
    """Another file the model may read (an open tab, an imported module)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    path: str = Field(min_length=1, max_length=MAX_PATH_CHARS)
    text: str
    """The file's text, or the part of it worth showing."""


class NextEditRequest(BaseModel):
    # Each field's docstring is its description in the OpenAPI schema (/docs).
    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)

    model: str
    """The model to use; `GET /v1/models` lists what this server has."""
    path: str = Field(min_length=1, max_length=MAX_PATH_CHARS)
    """The current file's path (shown to the model; its extension names the language)."""
    language: str | None = Field(default=None, max_length=64)
    """The language id (`python`, `typescript`, ...)."""
    text: str
    """The current file's text, or a window of it starting at line `text_offset`."""
    text_offset: int = Field(default=0, ge=0)
    """The file line at which `text` starts, when `text` is a window of the file."""
    cursor: Position
    """The cursor, in file coordinates (inside `text`)."""
    history: list[HistoryEvent] = Field(default_factory=list, max_length=MAX_HISTORY_EVENTS)
    """The recent edits, oldest first: at most 64 events and 64 KiB of diffs. The newest diff of the
    current file must apply to `text` (each hunk's new side is found in it at its lines)."""
    related: list[RelatedFile] = Field(default_factory=list, max_length=MAX_RELATED_FILES)
    """Other files worth showing the model: at most 16, 128 KiB in all."""
    user: str | None = Field(default=None, max_length=256)
    """The editor session. A newer next-edit request of the same session (and API key) supersedes an
    older one (409); completions of the same session are not affected."""
    stream: bool = False
    """Answer as server-sent events: the answer as one `next_edit` event when it is known, then `[DONE]`."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Most tokens the model may write (its rewrite of the editable region); default twice the region's tokens
    and 64 more, at most a quarter of the context."""
    format: FormatName | None = None
    """The prompt format; by default the server's `--next-edit-format` (auto: from the model's name)."""
    deadline_ms: DeadlineMs | None = None
    """Milliseconds from when the server receives the request after which the answer is of no use, 1 to
    60000, as in `/v1/completions`: 503 `deadline_exceeded` when it cannot be answered in time, or at
    once 503 `overloaded` (Retry-After) when the wait for the engine alone would outlast it."""

    # What the service checked and rendered at admission (service.py `asked`), run as it is.
    _prepared: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_sizes(self) -> NextEditRequest:
        history_bytes = sum(len(e.diff.encode("utf-8", "surrogatepass")) for e in self.history)
        if history_bytes > MAX_HISTORY_BYTES:
            raise ParamError(f"history holds {history_bytes} bytes of diffs; the limit is {MAX_HISTORY_BYTES}: "
                             "send the most recent edits only", "history", code="history_too_large")
        related_bytes = sum(len(f.text.encode("utf-8", "surrogatepass")) for f in self.related)
        if related_bytes > MAX_RELATED_BYTES:
            raise ParamError(f"related holds {related_bytes} bytes of text; the limit is {MAX_RELATED_BYTES}",
                             "related", code="related_too_large")
        return self

    @property
    def extra_fields(self) -> list[str]:
        return sorted((self.model_extra or {}).keys())


class TextEdit(BaseModel):
    range: Range
    """What to replace, in file coordinates; start == end inserts."""
    text: str
    """The replacement."""


class NextEdit(BaseModel):
    id: str
    """The answer's id (what `/v1/events` accepts, like a completion's)."""
    object: Literal["next_edit"] = "next_edit"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    edits: list[TextEdit]
    """The predicted edits, in file order, none overlapping; empty when `no_edit`."""
    no_edit: bool
    """True when the model proposes nothing (it rewrote the region as it is, or said so)."""
    usage: CompletionUsage
    # codefill's extensions
    format: FormatName
    """The prompt format the model was shown."""
