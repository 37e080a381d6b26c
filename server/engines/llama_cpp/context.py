"""The one llama.cpp context, through llama-cpp-python's low-level API.

One context of `n_cells` KV cells serves up to `n_seq` sequences at once
(`n_seq_max`). Its KV cache is unified: all sequences take cells from one
pool, so a short session leaves room for a long one, and `seq_cp` shares a
head between sequences without copying it (the cells just belong to both).
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
        params.kv_unified = True
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
        self._lib.llama_memory_seq_cp(self._mem, src, dst, 0, n)

    def save(self, seq: int, tokens: list[int]) -> _SavedSession:
        return save_sequence(self.ctx, seq, tokens)

    def restore(self, seq: int, saved: _SavedSession) -> bool:
        return restore_sequence(self.ctx, seq, saved)

