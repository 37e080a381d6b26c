"""LeadingBlankLines: blank lines before the first code are not code."""

from __future__ import annotations

from ..cursor import Site
from ..pipeline import StreamFilter


class LeadingBlankLines(StreamFilter):
    """At the start of an empty line blank lines are dropped, and so is
    indentation the editor already has. After code on the cursor's line,
    several newlines become one: the completion starts on the next line.

    `indent_in_prompt=False` says the cursor line's indentation was taken out
    of the prompt (see `model_prefix`), so the model writes it again and it is
    removed here."""

    name = "LeadingBlankLines"

    def __init__(self, cursor_line_prefix: str, indent_in_prompt: bool = True) -> None:
        self.line_prefix = cursor_line_prefix
        self.on_blank_line = not cursor_line_prefix.strip()
        self.indent_in_prompt = indent_in_prompt
        self.held = ""
        self.started = False

    @classmethod
    def for_site(cls, site: Site) -> LeadingBlankLines:
        return cls(site.cursor.line_prefix, indent_in_prompt=site.indent_in_prompt)

    def push(self, text: str) -> str:
        if self.started:
            return text
        buf = self.held + text
        if not buf.strip():
            self.held = buf
            return ""
        self.started = True
        self.held = ""
        content_at = len(buf) - len(buf.lstrip())
        lead, rest = buf[:content_at], buf[content_at:]
        if "\n" not in lead and self.indent_in_prompt:
            return buf
        indent = lead[lead.rfind("\n") + 1 :]
        if self.on_blank_line:
            # Continue on the cursor's line, which already has its indentation.
            if indent.startswith(self.line_prefix):
                indent = indent[len(self.line_prefix) :]
            elif self.line_prefix.startswith(indent):
                indent = ""  # the model indented less than the cursor is: the cursor's line cannot dedent
            return indent + rest
        return "\n" + indent + rest

    def flush(self) -> str:
        self.held = ""  # only whitespace arrived: never answer with whitespace alone
        return ""
