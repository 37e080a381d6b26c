"""Continue's Instinct (continuedev/instinct, a Qwen2.5-Coder-7B fine-tune).

The layout, from Continue's `core/nextEdit`: `constants.ts`
(`INSTINCT_SYSTEM_PROMPT`, `INSTINCT_USER_PROMPT_PREFIX`, the marker
tokens), `templating/instinct.ts` (`contextSnippetsBlock`,
`currentFileContentBlock`, `editHistoryBlock`) and
`providers/InstinctNextEditProvider.ts` (the user message, the window of 25
lines each side of the cursor, the editable region from one line above the
cursor to five below). It is a chat prompt (system and user messages), in
Qwen's ChatML, which the model was trained with; the edit history goes
newest first, as its system prompt says. The model answers the region's new
text alone.
"""

from __future__ import annotations

from .base import Builder, Excerpt, Format, Prompt, between, cut_at

SYSTEM = (
    "You are Instinct, an intelligent next-edit predictor developed by Continue.dev. Your role as an AI agent "
    "is to help developers complete their code tasks by predicting the next edit that they will make within "
    "the section of code marked by <|editable_region_start|> and <|editable_region_end|> tags.\n\n"
    "You have access to the following information to help you make informed suggestions:\n\n"
    "- Context: In the section marked \"### Context\", there are context items from potentially relevant files "
    "in the developer's codebase. Each context item consists of a <|context_file|> marker, the filepath, a "
    "<|snippet|> marker, and then some content from that file, in that order. Keep in mind that not all of the "
    "context information may be relevant to the task, so use your judgement to determine which parts to "
    "consider.\n"
    "- User Edits: In the section marked \"### User Edits:\", there is a record of the most recent changes made "
    "to the code, helping you understand the evolution of the code and the developer's intentions. These "
    "changes are listed from most recent to least recent. It's possible that some of the edit diff history is "
    "entirely irrelevant to the developer's change. The changes are provided in a unified line-diff format, "
    "i.e. with pluses and minuses for additions and deletions to the code.\n"
    "- User Excerpt: In the section marked \"### User Excerpt:\", there is a filepath to the developer's current "
    "file, and then an excerpt from that file. The <|editable_region_start|> and <|editable_region_end|> "
    "markers are within this excerpt. Your job is to rewrite only this editable region, not the whole excerpt. "
    "The excerpt provides additional context on the surroundings of the developer's edit.\n"
    "- Cursor Position: Within the user excerpt's editable region, the <|user_cursor_is_here|> flag indicates "
    "where the developer's cursor is currently located, which can be crucial for understanding what part of "
    "the code they are focusing on. Do not produce this marker in your output; simply take it into account.\n\n"
    "Your task is to predict and complete the changes the developer would have made next in the editable "
    "region. The developer may have stopped in the middle of typing. Your goal is to keep the developer on the "
    "path that you think they're following. Some examples include further implementing a class, method, or "
    "variable, or improving the quality of the code. Make sure the developer doesn't get distracted by "
    "ensuring your suggestion is relevant. Consider what changes need to be made next, if any. If you think "
    "changes should be made, ask yourself if this is truly what needs to happen. If you are confident about "
    "it, then proceed with the changes.\n\n"
    "# Steps\n\n"
    "1. **Review Context**: Analyze the context from the resources provided, such as recently viewed snippets, "
    "edit history, surrounding code, and cursor location.\n"
    "2. **Evaluate Current Code**: Determine if the current code within the tags requires any corrections or "
    "enhancements.\n"
    "3. **Suggest Edits**: If changes are required, ensure they align with the developer's patterns and "
    "improve code quality.\n"
    "4. **Maintain Consistency**: Ensure indentation and formatting follow the existing code style.\n\n"
    "# Output Format\n\n"
    "- Provide only the revised code within the tags. Do not include the tags in your output.\n"
    "- Ensure that you do not output duplicate code that exists outside of these tags.\n"
    "- Avoid undoing or reverting the developer's last change unless there are obvious typos or errors."
)
USER_PREFIX = (
    "Reference the user excerpt, user edits, and the snippets to understand the developer's intent. Update the "
    "editable region of the user excerpt by predicting and completing the changes they would have made next. "
    "This may be a deletion, addition, or modification of code."
)
REGION_START = "<|editable_region_start|>"
REGION_END = "<|editable_region_end|>"
CURSOR = "<|user_cursor_is_here|>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"


class Instinct(Format, name="instinct", region=(1, 5), context=25, stops=(IM_END, "<|endoftext|>", IM_START),
               source="Continue's core/nextEdit: constants.ts, templating/instinct.ts, "
                      "providers/InstinctNextEditProvider.ts"):
    def render(self, x: Excerpt) -> Prompt:
        b = Builder().mark(IM_START).add(f"system\n{SYSTEM}").mark(IM_END).add("\n").mark(IM_START)
        b.add(f"user\n{USER_PREFIX}\n\n### Context:\n")
        for i, f in enumerate(x.related):
            b.add("\n" if i else "").mark("<|context_file|>").add(f": {f.path}\n").mark("<|snippet|>")
            b.add("\n" + f.text.removesuffix("\n"))
        b.add("\n\n### User Edits:\n\n")
        for i, edit in enumerate(reversed(x.edits)):
            b.add(("\n" if i else "") + f'User edited file "{edit.path}"\n\n```diff\n{edit.body}```')
        b.add(f"\n\n### User Excerpt:\n{x.path}\n\n{x.before}")
        before, after = x.region_with(CURSOR)
        b.mark(REGION_START).add("\n" + before).mark(CURSOR).add(after).mark(REGION_END)
        b.add("\n" + x.after + "```\n### Response:").mark(IM_END).add("\n").mark(IM_START).add("assistant\n")
        return b.prompt()

    def parse(self, output: str) -> str | None:
        text = cut_at(output, self.stops)
        text = between(text, REGION_START, REGION_END) if REGION_START in text else text.replace(REGION_END, "")
        text = text.strip("\n")
        if text.startswith("```"):  # a fenced answer: the code inside the fence
            text = text.split("\n", 1)[1] if "\n" in text else ""
            text = text.rsplit("```", 1)[0]
        return text.replace(CURSOR, "")
