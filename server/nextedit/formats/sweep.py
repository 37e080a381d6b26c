"""Sweep's next-edit models (sweepai/sweep-next-edit-1.5B, sweep-next-edit-v2-7B).

The layout, from the v2 model card's `inference.py` (`build_prompt`,
`PROMPT_TEMPLATE`, `DIFF_FORMAT`, `STOP_TOKENS`) and Sweep's post on the
format: the file around the block (`<|file_sep|>path`), the related files
(`<|file_sep|>path` each), the recent changes as `original:` / `updated:`
blocks (`<|file_sep|>path:start:end`), then the block around the cursor
three times: `original/path:start:end` (before the last edit),
`current/path:start:end` (now, with `<|cursor|>`) and `updated/path:start:end`,
which the model writes. The prompt ends with the block's lines above the
cursor's line (the card's prefill), so the model rewrites from the cursor's
line down. Without history, `original` is the block cut at that line, as
the card does, so that the model sees the cursor's lines as new; with
history of other files only, it is the block as it is.
`<|file_sep|>` is Qwen2.5-Coder's repository-level file separator, a special
token of its vocabulary.
"""

from __future__ import annotations

from .base import Builder, Excerpt, Format, Prompt, cut_at, ensure_newline

FILE_SEP = "<|file_sep|>"
CURSOR = "<|cursor|>"


class Sweep(Format, name="sweep", region=(10, 10), context=50,
            stops=(FILE_SEP, "<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
                   "<|repo_name|>", "<|im_start|>", "<|im_end|>"),
            source="sweepai/sweep-next-edit-v2-7B model card, inference.py (build_prompt, PROMPT_TEMPLATE, DIFF_FORMAT)"):
    def render(self, x: Excerpt) -> Prompt:
        start, end = x.region
        span = f"{x.text_offset + start + 1}:{x.text_offset + end}"
        b = Builder().mark(FILE_SEP).add(f"{x.path}\n{x.before}{x.after}")
        for f in x.related:
            b.add("\n").mark(FILE_SEP).add(f"{f.path}\n" + ensure_newline(f.text))
        b.add("\n")
        for i, edit in enumerate(x.edits):
            for j, hunk in enumerate(edit.hunks):
                b.add("\n" if i or j else "").mark(FILE_SEP)
                last = hunk.new_start + max(len(hunk.new), 1) - 1
                b.add(f"{edit.path}:{hunk.new_start}:{last}\noriginal:\n" + "\n".join(hunk.removed)
                      + "\nupdated:\n" + "\n".join(hunk.added))
        row = x.cursor[0]
        prefill = x.text(start, row)
        if x.original is not None:
            original = x.original
        else:  # no edit of this file: the block as it is, or without history at all, cut at the cursor's line
            original = x.lines[start:end] if x.edits else x.lines[start:row]
        b.add("\n").mark(FILE_SEP).add(f"original/{x.path}:{span}\n" + "".join(line + "\n" for line in original))
        before, after = x.region_with(CURSOR)
        b.add("\n").mark(FILE_SEP).add(f"current/{x.path}:{span}\n{before}").mark(CURSOR).add(after)
        b.add("\n").mark(FILE_SEP).add(f"updated/{x.path}:{span}\n")
        return b.prompt(prefill)

    def parse(self, output: str) -> str | None:
        return cut_at(output, self.stops).replace(CURSOR, "")
