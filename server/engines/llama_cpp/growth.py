"""Growing a cold window to its full prompt in idle time.

A request answered from its cold window (the last few hundred tokens before
the cursor, scheduler.py `_place`) leaves its session's full prompt to be
evaluated later, `GROW_CHUNK` tokens a step, only while no interactive
request is running or waiting: then the session's next keystroke finds the
whole prompt cached. One growth at a time (the latest cold window's).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from .slots import Slot, Slots
from .stats import EngineStats

log = logging.getLogger("codefill.engine.llama_cpp")

# Prompt tokens evaluated per step while growing a cold window.
GROW_CHUNK = 64


@dataclass
class Growth:
    key: tuple  # the session's "full" state
    salt: object
    tokens: list[int]  # the full prompt

    def entries(self, slots: Slots, stats: EngineStats, now: float) -> tuple[Slot | None, list]:
        """The next chunk's batch entries, in the session's slot (None, [] when no slot is free)."""
        placed = slots.acquire(self.key, self.salt, self.tokens, now)
        if placed is None:
            return None, []
        slot = placed.slot
        stats.counters["shared_prefix_tokens"] += placed.shared
        start = len(slot.tokens)
        chunk = self.tokens[start : start + GROW_CHUNK]
        return slot, [(slot.seq, start + k, t, k == len(chunk) - 1) for k, t in enumerate(chunk)]

    def grown(self, slots: Slots, stats: EngineStats, slot: Slot, chunk: list[int]) -> bool:
        """A chunk evaluated; whether the window is now whole."""
        slot.tokens.extend(chunk)
        stats.counters["grown_tokens"] += len(chunk)
        slots.release(slot, time.monotonic())
        if len(slot.tokens) < len(self.tokens):
            return False
        stats.counters["windows_grown"] += 1
        log.debug("grew a cold window to its full %d tokens", len(slot.tokens))
        return True
