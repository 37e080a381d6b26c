"""Sequences (slots) of the one context, and what each holds.

A slot is one llama.cpp sequence id. It holds the KV cells of `tokens`, the
tokens it has evaluated, for `key` = (cache salt, session, "full" | "cold"),
and stays so after its request ends: the session's next keystroke finds its
prompt there and evaluates only what changed. A request takes its own
session's slot; else a free one; else the least recently used idle slot,
whose cells go to RAM (`states.py`) first. A slot's start can come from
three places, whichever holds most of the prompt: the slot itself, the
session's state in RAM, or another slot of the same cache salt whose tokens
begin the same way (`seq_cp`: two sessions in one file share its head). Never
across salts: a tenant's prompt must not speed up, or be seen by, another.

`KvOps` is the context's side (remove, copy, save, restore), so the rules here
run against a fake in unit tests and against llama.cpp in the engine.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .states import _SavedSession, _SessionStates


# The fewest tokens worth sharing from another sequence.
MIN_SHARED = 16


class KvOps(Protocol):
    def remove(self, seq: int, start: int) -> None:
        """Drop sequence `seq`'s cells from position `start` on."""

    def copy(self, src: int, dst: int, n: int) -> None:
        """Let `dst` share `src`'s cells of positions [0, n)."""

    def save(self, seq: int, tokens: list[int]) -> _SavedSession: ...

    def restore(self, seq: int, saved: _SavedSession) -> bool: ...


@dataclass
class Slot:
    seq: int
    key: Hashable | None = None
    salt: object = None
    tokens: list[int] = field(default_factory=list)
    busy: bool = False  # a request (or a cold window's growth) is using it
    last_used: float = 0.0


@dataclass
class Placement:
    slot: Slot
    cached: int  # prompt tokens already in the slot's KV cells
    shared: int  # of those, copied from another session's sequence
    # What the session's sequence held after the whole of this prompt: its earlier answer from here on,
    # when the user typed what that answer began with (drafts for this one: decoding.py `foresee`).
    continuation: tuple[int, ...] = ()


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class Slots:
    def __init__(self, n: int, kv: KvOps, saved: _SessionStates,
                 counters: dict[str, int] | None = None) -> None:
        self.slots = [Slot(i) for i in range(n)]
        self.counters = counters if counters is not None else {"evicted_to_ram": 0, "restored_from_ram": 0}
        self.kv = kv
        self.saved = saved

    def busy(self) -> int:
        return sum(s.busy for s in self.slots)

    def cells(self) -> int:
        """KV cells held (a head shared by two slots counts twice: an upper bound)."""
        return sum(len(s.tokens) for s in self.slots)

    def _sources(self, salt) -> list[Slot]:
        return [s for s in self.slots if s.salt == salt and s.tokens]

    def reusable(self, key: Hashable, salt, tokens: Sequence[int]) -> int:
        """How many of `tokens` a placement could start with (own slot, RAM, a same-salt slot)."""
        best = max((common_prefix(s.tokens, tokens) for s in self._sources(salt)), default=0)
        saved = self.saved.peek(key)
        if saved is not None:
            best = max(best, common_prefix(saved.tokens, tokens))
        return best

    def acquire(self, key: Hashable, salt, tokens: Sequence[int], now: float) -> Placement | None:
        """A slot for `tokens`, holding as much of them as can be had; None when all are busy."""
        own = [s for s in self.slots if s.key == key and not s.busy]
        slot = max(own, key=lambda s: common_prefix(s.tokens, tokens), default=None)
        if slot is None:
            slot = self._free() or self._evict_lru()
        if slot is None:
            return None
        here = common_prefix(slot.tokens, tokens) if slot.key == key else 0
        saved = self.saved.peek(key)
        in_ram = common_prefix(saved.tokens, tokens) if saved is not None else 0
        donors = [s for s in self._sources(salt) if s is not slot]
        donor = max(donors, key=lambda s: common_prefix(s.tokens, tokens), default=None)
        from_donor = common_prefix(donor.tokens, tokens) if donor is not None else 0
        if from_donor < MIN_SHARED:  # a BOS and a few tokens are not worth a copy
            from_donor = 0
        shared = 0
        mine = slot.key == key  # the slot holds this session's own tokens (not a copy of another's head)
        if max(in_ram, from_donor) > here:
            self._clear(slot)
            mine = False
            if in_ram >= from_donor and self.kv.restore(slot.seq, saved):
                self.saved.take(key)
                self.counters["restored_from_ram"] += 1
                slot.tokens = list(saved.tokens)
                mine = True
            elif from_donor > 0:
                self.kv.copy(donor.seq, slot.seq, from_donor)
                slot.tokens = list(donor.tokens[:from_donor])
                shared = from_donor
        elif slot.key != key:
            self._clear(slot)
        # The last prompt token is always evaluated again: its logits give the first answer token.
        held = common_prefix(slot.tokens, tokens)
        continuation = tuple(slot.tokens[held:]) if mine and held == len(tokens) else ()
        keep = min(held, len(tokens) - 1)
        shared = min(shared, keep)
        self.truncate(slot, keep)
        slot.key, slot.salt, slot.busy, slot.last_used = key, salt, True, now
        return Placement(slot, keep, shared, continuation)

    def release(self, slot: Slot, now: float) -> None:
        slot.busy = False
        slot.last_used = now

    def truncate(self, slot: Slot, n: int) -> None:
        if n < len(slot.tokens):
            self.kv.remove(slot.seq, n)
            del slot.tokens[n:]

    def drop(self, matches) -> int:
        """Forget every state whose key `matches` (the admin API): idle slots are emptied, a busy one
        finishes its request but can no longer be found by its key or shared from; saved states go.
        Returns how many states went."""
        n = 0
        for slot in self.slots:
            if slot.key is not None and matches(slot.key):
                n += 1
                if slot.busy:
                    slot.key = slot.salt = None
                else:
                    self._clear(slot)
        for key in [k for k in self.saved.keys() if matches(k)]:
            self.saved.take(key)
            n += 1
        return n

    def _free(self) -> Slot | None:
        return next((s for s in self.slots if s.key is None and not s.busy), None)

    def _evict_lru(self) -> Slot | None:
        idle = [s for s in self.slots if not s.busy]
        if not idle:
            return None
        slot = min(idle, key=lambda s: s.last_used)
        if slot.key is not None and slot.tokens:
            self.saved.put(slot.key, self.kv.save(slot.seq, slot.tokens))
            self.counters["evicted_to_ram"] += 1
        self._clear(slot)
        return slot

    def _clear(self, slot: Slot) -> None:
        if slot.tokens:
            self.kv.remove(slot.seq, 0)
        slot.tokens = []
        slot.key = None
        slot.salt = None
