"""One request's post-processing: the cursor, the mode and the pipeline, in one call."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .cursor import Cursor, Site, resolve_mode
from .filters import ORDER, StopSequences
from .pipeline import Pipeline, StreamFilter

# The filters an operator may switch off (`codefill serve --disable-filter NAME`; `all` for every one),
# e.g. to see what one costs or gains (`codefill bench quality --ablate`). The request's own `stop`
# sequences always apply.
FILTERS = tuple(f.name for f in ORDER)


def disabled_filters(names: Iterable[str]) -> frozenset[str]:
    """Validated filter names (`all` stands for every one)."""
    out = set()
    for name in names:
        if name == "all":
            out.update(FILTERS)
        elif name in FILTERS:
            out.add(name)
        else:
            raise ValueError(f"no filter named {name!r}; the filters are: all, {', '.join(FILTERS)}")
    return frozenset(out)


@dataclass(frozen=True)
class Plan:
    cursor: Cursor
    mode: str  # resolved: `single_line`, `multi_line` or `raw`
    pipeline: Pipeline


def plan(prefix: str, suffix: str | None, *, language: str | None = None, mode: str = "auto",
         stops: Iterable[str] = (), disabled: frozenset[str] = frozenset()) -> Plan:
    """How one completion is post-processed. `suffix` None: a plain completion,
    not an editor's (`auto` becomes `raw`); `language`: a canonical name from
    `codefill.server.languages` (None: only the language-agnostic rules);
    `disabled`: names from FILTERS to leave out."""
    cursor = Cursor.at(prefix, suffix or "", language)
    resolved = resolve_mode(mode, has_suffix=suffix is not None, cursor=cursor)
    pipeline = build_pipeline(mode=resolved, stops=list(stops), prefix=prefix, suffix=suffix, language=language,
                              disabled=disabled, cursor=cursor)
    return Plan(cursor, resolved, pipeline)


def build_pipeline(*, mode: str, stops: list[str], prefix: str, suffix: str | None,
                   language: str | None = None, disabled: frozenset[str] = frozenset(),
                   cursor: Cursor | None = None) -> Pipeline:
    """The filters for one completion in a mode already resolved (`plan` resolves it)."""
    if mode == "raw":
        return Pipeline([StopSequences(stops)] if stops else [])
    suffix = suffix or ""
    cursor = cursor or Cursor.at(prefix, suffix, language)
    site = Site(prefix, suffix, cursor, mode, language, disabled)
    # On an empty line the answer is that line's code: a stop in the blank lines before it does not count.
    filters: list[StreamFilter] = [StopSequences(stops, after_code=cursor.on_empty_line)] if stops else []
    for kind in ORDER:
        made = kind.for_site(site) if kind.name not in disabled else None
        if made is not None:
            filters.append(made)
    return Pipeline(filters)
