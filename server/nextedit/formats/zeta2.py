"""Zed's Zeta 2 layout: files separated by `<|file_sep|>`, the edit history
as unified diffs, the current file as fill-in-the-middle with the editable
region shown as `current` and the model writing it `updated`.

From Zed's `zeta_prompt` crate (`crates/zeta_prompt/src/zeta_prompt.rs`,
`format_zeta_prompt`, the `V0113Ordered` version): related files first
(`<|file_sep|>path`, their text), then `<|file_sep|>edit history` and each
event as `--- a/path` / `+++ b/path` and its hunks, then
`<|file_sep|>path`, `<|fim_prefix|>` and the text before the region,
`<|fim_middle|>current` and the region with `<|user_cursor|>`,
`<|fim_suffix|>` and the text after it, and `<|fim_middle|>updated`. The
markers are Qwen2.5-Coder's special tokens (the base of Zed's models).
"""

from __future__ import annotations

from .base import Builder, Excerpt, Format, Prompt, cut_at, ensure_newline

FILE_SEP = "<|file_sep|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_SUFFIX = "<|fim_suffix|>"
FIM_MIDDLE = "<|fim_middle|>"
CURSOR = "<|user_cursor|>"


class Zeta2(Format, name="zeta2", region=(4, 8), context=30,
            stops=(FIM_SUFFIX, FIM_MIDDLE, FIM_PREFIX, FILE_SEP, "<|endoftext|>"),
            source="Zed's zeta_prompt crate (crates/zeta_prompt/src/zeta_prompt.rs, format_zeta_prompt, V0113Ordered)"):
    def render(self, x: Excerpt) -> Prompt:
        b = Builder()
        for f in x.related:
            b.mark(FILE_SEP).add(f"{f.path}\n" + ensure_newline(f.text))
        b.mark(FILE_SEP).add("edit history\n")
        for edit in x.edits:
            path = edit.path.lstrip("/")
            b.add(f"--- a/{path}\n+++ b/{path}\n{edit.body}")
        b.mark(FILE_SEP).add(f"{x.path}\n").mark(FIM_PREFIX).add("\n" + x.before)
        before, after = x.region_with(CURSOR)
        b.mark(FIM_MIDDLE).add("current\n" + before).mark(CURSOR).add(after)
        b.mark(FIM_SUFFIX).add("\n" + x.after).mark(FIM_MIDDLE).add("updated\n")
        return b.prompt()

    def parse(self, output: str) -> str | None:
        return cut_at(output, self.stops).replace(CURSOR, "")
