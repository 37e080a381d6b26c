"""POST /v1/events: clients say what became of a completion (shown, accepted,
dismissed), which gives the acceptance rate by language as metrics.

An event names a completion id this server issued to the same API key (the
`Issued` log keeps the latest 100,000); anything else is 404, so one key can
neither see nor skew another's numbers. Each (completion, event) counts once.
Languages become metric labels, so they are normalised and capped in number.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from ..metrics import Metrics
from .dialects.tabby import from_tabby_event
from ..errors import APIError
from .protocol import ErrorResponse

router = APIRouter()
_MAX_LANGUAGES = 64
_LANGUAGE = re.compile(r"^[a-z0-9_+#.-]{1,32}$")


class CompletionEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(max_length=128, validation_alias=AliasChoices("completion_id", "id"),
                    description="the completion's id, as in its response (also accepted as `completion_id`, "
                                "the name the editor clients send)")
    event: Literal["shown", "accepted", "dismissed"]
    language: str | None = Field(None, max_length=64, description="the editor's language id, e.g. 'python' "
                                 "(default: the language of the completion's request)")

    @model_validator(mode="before")
    @classmethod
    def _tabby(cls, data):
        """Tabby's events (`type`: view, select, dismiss) are the same three things."""
        return from_tabby_event(data)


class EventReceipt(BaseModel):
    object: Literal["completion.event"] = "completion.event"
    id: str
    event: str
    counted: bool = Field(description="false when this event was already reported for this completion")


class Issued:
    """Completion ids issued lately, with their key and the events seen."""

    def __init__(self, metrics: Metrics, max_ids: int = 100_000) -> None:
        self.metrics = metrics
        self.max_ids = max_ids
        self._ids: OrderedDict[str, tuple[str, set[str], str | None]] = OrderedDict()
        self._shown: dict[str, int] = {}
        self._accepted: dict[str, int] = {}

    def add(self, completion_id: str, key: str, language: str | None = None) -> None:
        self._ids[completion_id] = (key, set(), language)
        while len(self._ids) > self.max_ids:
            self._ids.popitem(last=False)

    def record(self, ev: CompletionEvent, key: str) -> bool:
        entry = self._ids.get(ev.id)
        if entry is None or entry[0] != key:
            raise APIError(404, f"No completion '{ev.id}' was issued to this key (or it is too old).",
                           param="id", code="completion_not_found")
        if ev.event in entry[1]:
            return False
        entry[1].add(ev.event)
        language = self._language(ev.language or entry[2])
        self.metrics.events.labels(ev.event, language).inc()
        if ev.event in ("shown", "accepted"):
            counts = self._shown if ev.event == "shown" else self._accepted
            counts[language] = counts.get(language, 0) + 1
            shown = self._shown.get(language, 0)
            if shown:
                self.metrics.acceptance.labels(language).set(self._accepted.get(language, 0) / shown)
        return True

    def _language(self, given: str | None) -> str:
        language = (given or "unknown").strip().lower()
        if not _LANGUAGE.match(language):
            return "other"
        if language not in self._shown and len(self._shown) >= _MAX_LANGUAGES:
            return "other"
        self._shown.setdefault(language, 0)
        return language


@router.post("/v1/events", response_model=EventReceipt,
             responses={c: {"model": ErrorResponse} for c in (400, 401, 404, 429)},
             summary="Report that a completion was shown, accepted or dismissed")
async def report_event(body: CompletionEvent, request: Request) -> EventReceipt:
    key = getattr(request.state, "key", None) or "anonymous"
    request.app.state.gate.admit_event(key)  # 429 past the key's events per second
    counted = request.app.state.issued.record(body, key)
    return EventReceipt(id=body.id, event=body.event, counted=counted)
