"""Where each editor session's last cold window started, so that its next keystroke can be offered
that window again, grown to the cursor (server/prompt `render_prompt`'s `kept`).

A cold window's start is chosen by the text around the point where its target size is reached
(prompt/fitting.py `cold_window`). That point moves when the typists sharing the engine come and go
(the target is their share of `--cold-window`) and when the full prompt's anchor moves (its characters
per token size the window), and a moved start makes the session's cached window useless: the engine
evaluates the new one from scratch. Offered both, the engine takes the one its cache holds more of
(engines/llama_cpp/scheduler.py `_place`), and tells which (`GenerationResult.cold_kept`; `cold_small`:
the smallest window, which it takes once other sessions share it).

Keys are tenant-scoped session keys (tenants.py `session_key`): a start is a few lines of a tenant's
code and goes to no other tenant's prompts. The memory is bounded (least recently used go first) and
dropped with the session's other state (the admin API's `/cache/drop`).
"""

from __future__ import annotations

from collections import OrderedDict

from ..engines.base import GenerationResult
from ..prompt import ColdStart, EngineInput
from ..tenants import forget_sessions

_MAX_SESSIONS = 1024


class ColdStarts:
    def __init__(self, limit: int = _MAX_SESSIONS) -> None:
        self._starts: OrderedDict[str, ColdStart] = OrderedDict()
        self._limit = limit

    def __len__(self) -> int:
        return len(self._starts)

    def get(self, session: str | None) -> ColdStart | None:
        return self._starts.get(session) if session is not None else None

    def keep(self, session: str | None, shown: EngineInput, result: GenerationResult) -> None:
        """After the engine placed `shown` for `session`: remember the start of the window it used."""
        if session is None or not result.cold_window:
            return
        start = shown.kept_start if result.cold_kept else shown.small_start if result.cold_small else shown.cold_start
        if start is None:
            return
        self._starts[session] = start
        self._starts.move_to_end(session)
        while len(self._starts) > self._limit:
            self._starts.popitem(last=False)

    def forget(self, *, session: str | None = None, session_prefix: str | None = None) -> int:
        """Drop one session's start, or every session's whose key starts with `session_prefix` (a tenant's)."""
        return forget_sessions(self._starts, session=session, session_prefix=session_prefix)
