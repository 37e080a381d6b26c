"""The one llama.cpp context, through llama-cpp-python's low-level API.

One context serves up to `n_seq` sequences at once (`n_seq_max`), each in a
KV stream of its own of `n_cells / n_seq` cells (llama.cpp's non-unified
cache). A token attends only to its own sequence's cells: in one unified
pool every token would attend over the cells of every resident session
(masked, but computed), which on a small model costs more than the weights
once a few sessions are resident (docs/BENCHMARKS.md, "A KV stream per sequence").
`seq_cp` across streams copies a whole sequence's cells at the next decode
(a memory copy, not computation); `copy` then cuts the tail it does not share.
`decode` evaluates one batch of (sequence, position, token, logits wanted)
entries; `logits(i)` is the i-th row of logits asked for, valid until the
next decode.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .states import _SavedSession, restore_sequence, save_sequence


class Context:
    def __init__(self, path: Path, *, n_cells: int, n_seq: int, n_batch: int, n_threads: int,
                 flash_attn: bool) -> None:
        import llama_cpp
        from llama_cpp._internals import LlamaContext, LlamaModel

        self._lib = llama_cpp
        self.model = LlamaModel(path_model=str(path), params=llama_cpp.llama_model_default_params(), verbose=False)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_cells
        params.n_batch = n_batch
        params.n_ubatch = n_batch
        params.n_seq_max = n_seq
        params.kv_unified = False
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        params.no_perf = True
        params.flash_attn_type = (llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED if flash_attn
                                  else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED)
        self._context = LlamaContext(model=self.model, params=params, verbose=False)
        self.ctx = self._context.ctx
        self.n_cells = llama_cpp.llama_n_ctx(self.ctx)
        self._mem = llama_cpp.llama_get_memory(self.ctx)
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.model.vocab)

    def close(self) -> None:
        if self._batch is not None:
            self._lib.llama_batch_free(self._batch)
            self._batch = None
        self._context.close()
        self.model.close()

    def decode(self, entries: list[tuple[int, int, int, bool]]) -> int:
        """Evaluate (seq, pos, token, want_logits) entries as one batch; llama_decode's return code."""
        b = self._batch
        b.n_tokens = len(entries)
        for i, (seq, pos, token, want) in enumerate(entries):
            b.token[i] = token
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = want
        return self._lib.llama_decode(self.ctx, b)

    def logits(self, i: int) -> np.ndarray:
        """Logits of batch entry `i` (which asked for them)."""
        ptr = self._lib.llama_get_logits_ith(self.ctx, i)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    # -- KvOps (slots.py) --------------------------------------------------------

    def remove(self, seq: int, start: int) -> None:
        self._lib.llama_memory_seq_rm(self._mem, seq, start, -1)

    def copy(self, src: int, dst: int, n: int) -> None:
        # Across streams llama.cpp copies only whole sequences: all of it, then the tail goes.
        self._lib.llama_memory_seq_cp(self._mem, src, dst, -1, -1)
        self._lib.llama_memory_seq_rm(self._mem, dst, n, -1)

    def save(self, seq: int, tokens: list[int]) -> _SavedSession:
        return save_sequence(self.ctx, seq, tokens)

    def restore(self, seq: int, saved: _SavedSession) -> bool:
        return restore_sequence(self.ctx, seq, saved)

