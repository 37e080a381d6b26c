"""Idle sessions' KV states in RAM.

When a new session needs a sequence and none is free, the least recently
used idle sequence's KV cells are copied out (`llama_state_seq_get_data`,
only the used cells, straight into a numpy array: ~10 ms at 1,000 tokens)
and kept here, least recently used evicted first past `max_bytes`. The
session's next keystroke copies them back into a sequence
(`llama_state_seq_set_data`) instead of evaluating its prompt again.
"""

from __future__ import annotations

import ctypes
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Hashable

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("codefill.engine.llama_cpp")


@dataclass
class _SavedSession:
    tokens: list[int]
    kv: bytes | np.ndarray  # llama.cpp's state of one sequence: the KV cells of `tokens` (uint8)


class _SessionStates:
    """Saved KV states by key (whose tokens they hold), least recently used
    evicted first once they take more than `max_bytes` together."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._states: OrderedDict[Hashable, _SavedSession] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._states)

    def keys(self) -> list[Hashable]:
        return list(self._states)

    def peek(self, key: Hashable) -> _SavedSession | None:
        return self._states.get(key)

    def take(self, key: Hashable) -> _SavedSession | None:
        state = self._states.pop(key, None)
        if state is not None:
            self.bytes -= len(state.kv)
        return state

    def put(self, key: Hashable, state: _SavedSession) -> None:
        self.take(key)
        if len(state.kv) > self.max_bytes:
            return
        self._states[key] = state
        self.bytes += len(state.kv)
        while self.bytes > self.max_bytes:
            _, evicted = self._states.popitem(last=False)
            self.bytes -= len(evicted.kv)


def save_sequence(ctx, seq: int, tokens: list[int]) -> _SavedSession:
    """Sequence `seq`'s KV cells, copied out of the context."""
    import llama_cpp
    import numpy as np

    size = llama_cpp.llama_state_seq_get_size(ctx, seq)
    # An uninitialised array, handed to llama.cpp and kept as it is: ctypes
    # arrays and bytes would zero-fill and copy ~20 MB two more times.
    buf = np.empty(size, dtype=np.uint8)
    written = llama_cpp.llama_state_seq_get_data(ctx, buf.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), size, seq)
    return _SavedSession(list(tokens), buf[:written])


def restore_sequence(ctx, seq: int, saved: _SavedSession) -> bool:
    """Put `saved` back as sequence `seq` (which must be empty); False if llama.cpp refused."""
    import llama_cpp
    import numpy as np

    kv = np.frombuffer(saved.kv, dtype=np.uint8)
    ptr = kv.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))
    if llama_cpp.llama_state_seq_set_data(ctx, ptr, len(kv), seq) == 0:
        log.warning("could not restore a session's KV state; recomputing it")
        return False
    return True
