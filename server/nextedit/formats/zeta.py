"""Zed's Zeta (the first edit-prediction model, zed-industries/zeta on Hugging Face).

The layout, from Zed's `zeta` crate (`crates/zeta/src/zeta.rs`, `input_excerpt.rs`)
and the model card's example: an Alpaca-style instruction, the edit history
as `User edited "path":` fenced diffs, and the excerpt in a fence named by
its path, `<|start_of_file|>` where it starts the file, the editable region
between `<|editable_region_start|>` and `<|editable_region_end|>` lines, the
cursor as `<|user_cursor_is_here|>`. The model writes the excerpt back with
the region rewritten; the region is what lies between its markers. The
markers are plain text to Zeta's tokenizer (Qwen2.5-Coder's), several tokens
each.
"""

from __future__ import annotations

from .base import Builder, Excerpt, Format, Prompt, between

INSTRUCTION = (
    "You are a code completion assistant and your task is to analyze user edits and then rewrite an excerpt "
    "that the user provides, suggesting the appropriate edits within the excerpt, taking into account the "
    "cursor location."
)
START_OF_FILE = "<|start_of_file|>"
REGION_START = "<|editable_region_start|>"
REGION_END = "<|editable_region_end|>"
CURSOR = "<|user_cursor_is_here|>"


class Zeta(Format, name="zeta", region=(4, 8), context=12, stops=(REGION_END,),
           source="Zed's zeta crate (crates/zeta/src/zeta.rs, input_excerpt.rs) and the zed-industries/zeta model card"):
    def render(self, x: Excerpt) -> Prompt:
        b = Builder().add(f"### Instruction:\n{INSTRUCTION}\n\n### User Edits:\n\n")
        for i, edit in enumerate(x.edits):
            b.add(("\n\n" if i else "") + f'User edited "{edit.path}":\n```diff\n{edit.body}\n```')
        b.add(f"\n\n### User Excerpt:\n\n```{x.path}\n")
        if x.starts_file and x.context[0] == 0:
            b.mark(START_OF_FILE).add("\n")
        before, after = x.region_with(CURSOR)
        b.add(x.before).mark(REGION_START).add("\n" + before).mark(CURSOR).add(after)
        b.mark(REGION_END).add("\n" + x.after + "```\n\n### Response:\n")
        return b.prompt()

    def parse(self, output: str) -> str | None:
        region = between(output, REGION_START, REGION_END)
        return None if region is None else region.replace(CURSOR, "")
