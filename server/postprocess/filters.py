"""The filters of the post-processing pipeline, smallest first.

Each one fixes one thing users see go wrong in code completions; each has its
own tests in tests/unit/test_filters.py.
"""

from __future__ import annotations

from .pipeline import StreamFilter


def _longest_tail_that_starts(text: str, candidates: list[str]) -> int:
    """Length of the longest end of `text` that is a proper start of a candidate."""
    best = 0
    for c in candidates:
        for k in range(min(len(c) - 1, len(text)), best, -1):
            if text.endswith(c[:k]):
                best = k
                break
    return best


class StopSequences(StreamFilter):
    """OpenAI `stop`: end before the first stop sequence; it is not returned.

    A stop sequence can arrive split over several tokens, so the end of the
    text that could still become one is held back.

    `after_code`: only after the answer's first code character. On an empty
    line an editor's `stop: ["\n"]` would otherwise end a model that starts
    with a blank line before its code in an empty answer; the blank lines
    are LeadingBlankLines' to drop."""

    def __init__(self, stops: list[str], after_code: bool = False) -> None:
        self.stops = [s for s in stops if s]
        self.held = ""
        self.waiting_for_code = after_code

    def push(self, text: str) -> str:
        buf = self.held + text
        start = 0
        if self.waiting_for_code:
            start = len(buf) - len(buf.lstrip())
            if start == len(buf):  # whitespace only, so far
                self.held = ""
                return buf
            self.waiting_for_code = False
        cut = min((i for i in (buf.find(s, start) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.done = True
            self.held = ""
            return buf[:cut]
        keep = _longest_tail_that_starts(buf, self.stops)
        self.held = buf[len(buf) - keep :] if keep else ""
        return buf[: len(buf) - keep]

    def flush(self) -> str:
        out, self.held = self.held, ""
        return out


class CodeFence(StreamFilter):
    """Chat-tuned models wrap code in Markdown fences: drop an opening
    ```` ```lang ```` line and end at the closing fence."""

    FENCE = "```"

    def __init__(self) -> None:
        self.state = "start"  # start -> body
        self.held = ""

    def push(self, text: str) -> str:
        buf = self.held + text
        self.held = ""
        if self.state == "start":
            head = buf.lstrip()
            if not head or (len(head) < len(self.FENCE) and self.FENCE.startswith(head)):
                self.held = buf  # cannot tell yet
                return ""
            if head.startswith(self.FENCE):
                newline = head.find("\n")
                if newline < 0:
                    self.held = buf  # the fence's info string is still coming
                    return ""
                buf = head[newline + 1 :]
                self.state = "body"
                return self._body(buf, at_line_start=True)
            self.state = "body"
        return self._body(buf, at_line_start=False)

    def _body(self, buf: str, at_line_start: bool) -> str:
        if at_line_start and buf.startswith(self.FENCE):
            self.done = True
            return ""
        end = buf.find("\n" + self.FENCE)
        if end >= 0:
            self.done = True
            return buf[:end]
        keep = _longest_tail_that_starts(buf, ["\n" + self.FENCE])
        if at_line_start and len(buf) < len(self.FENCE) and self.FENCE.startswith(buf):
            keep = len(buf)
        self.held = buf[len(buf) - keep :] if keep else ""
        return buf[: len(buf) - keep]

    def flush(self) -> str:
        out, self.held = self.held, ""
        if self.state == "start":
            return "" if out.lstrip().startswith(self.FENCE) else out
        return out


class LeadingBlankLines(StreamFilter):
    """Blank lines before the first code are not code.

    At the start of an empty line they are dropped, and so is indentation the
    editor already has. After code on the cursor's line, several newlines
    become one: the completion starts on the next line.

    `indent_in_prompt=False` says the cursor line's indentation was taken out
    of the prompt (see `model_prefix`), so the model writes it again and it is
    removed here."""

    def __init__(self, cursor_line_prefix: str, indent_in_prompt: bool = True) -> None:
        self.line_prefix = cursor_line_prefix
        self.on_blank_line = not cursor_line_prefix.strip()
        self.indent_in_prompt = indent_in_prompt
        self.held = ""
        self.started = False

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


def model_prefix(prefix: str) -> str:
    """The prefix as the model should see it: without the indentation of an
    otherwise empty cursor line. Models tokenize indentation together with
    the code after it; a prompt that ends in bare spaces is one they rarely
    saw in training, and they continue it badly."""
    line = prefix.rsplit("\n", 1)[-1]
    return prefix[: len(prefix) - len(line)] if line and not line.strip() else prefix


class SingleLine(StreamFilter):
    """Answer one line: the rest of the cursor's line, or, when the cursor is
    at the end of a line and the completion starts with a newline, the next line."""

    def __init__(self, allow_next_line: bool) -> None:
        self.allow_next_line = allow_next_line
        self.content = False
        self.newline_used = False

    def push(self, text: str) -> str:
        for i, ch in enumerate(text):
            if ch == "\n":
                if self.content or self.newline_used or not self.allow_next_line:
                    self.done = True
                    return text[:i]
                self.newline_used = True
            elif not ch.isspace():
                self.content = True
        return text


class BlockEnd(StreamFilter):
    """A block's body ends where the code dedents: a multi-line completion
    ends before its first line indented less than its first line (the
    enclosing block's closing brace or next statement usually follows the
    cursor already)."""

    def __init__(self, cursor_line_prefix: str) -> None:
        # The first line continues the cursor's line: count the indentation the editor already has.
        self.first_line_indent = len(cursor_line_prefix) if not cursor_line_prefix.strip() else 0
        self.body_indent: int | None = None
        self.leading = ""  # whitespace at the start of the current line, until its first code
        self.in_code = False  # the current line's code has started

    def push(self, text: str) -> str:
        out = []
        for ch in text:
            if self.in_code:
                out.append(ch)
                if ch == "\n":
                    self.in_code = False
                    self.first_line_indent = 0
                continue
            if ch in " \t":
                self.leading += ch
                continue
            if ch == "\n":  # a blank line
                out.append(self.leading + ch)
                self.leading = ""
                continue
            indent = len(self.leading) + self.first_line_indent
            if self.body_indent is None:
                self.body_indent = indent
            elif indent < self.body_indent:
                self.done = True
                return "".join(out)
            out.append(self.leading + ch)
            self.leading = ""
            self.in_code = True
        return "".join(out)


class SuffixRepeat(StreamFilter):
    """End before a line that repeats the next line of code after the cursor:
    the model would otherwise write again what the file already has."""

    def __init__(self, suffix: str) -> None:
        following = next((ln.strip() for ln in suffix.split("\n")[1:] if ln.strip()), "")
        # A line of brackets alone (`}`, `});`) is BracketBalance's to judge:
        # a block the completion opens ends with one too.
        self.targets = [following] if any(ch.isalnum() for ch in following) else []
        self.line = ""  # the held start of the completion's current line
        self.partial = False  # part of the current line was passed on: it is no repeat

    def push(self, text: str) -> str:
        if not self.targets:
            return text
        out = []
        buf = self.line + text
        lines = buf.split("\n")
        for complete in lines[:-1]:
            if not self.partial and complete.strip() in self.targets:
                self.done = True
                self.line = ""
                return "".join(out)
            out.append(complete + "\n")
            self.partial = False
        self.line = lines[-1]
        if not self.partial and any(t.startswith(self.line.strip()) for t in self.targets):
            return "".join(out)  # might still become a repeat: hold the line
        out.append(self.line)
        self.partial = self.partial or bool(self.line)
        self.line = ""
        return "".join(out)

    def flush(self) -> str:
        line, self.line = self.line, ""
        if not self.partial and line.strip() in self.targets:
            return ""
        return line


class SuffixOverlap(StreamFilter):
    """On the cursor's line, drop the end of the completion that the text after
    the cursor already holds: `foo(|)` completed with `x)` gives `x`."""

    def __init__(self, suffix_line: str, brackets_decided: bool = False) -> None:
        self.rest = suffix_line.strip()
        self.held = ""
        # BracketBalance ran before: an overlap of closing brackets alone is one it chose to keep.
        self.brackets_decided = brackets_decided

    def push(self, text: str) -> str:
        if not self.rest:
            return text
        buf = self.held + text
        keep = min(len(buf), len(self.rest) + len(buf) - len(buf.rstrip()))
        self.held = buf[len(buf) - keep :]
        return buf[: len(buf) - keep]

    def flush(self) -> str:
        tail, self.held = self.held, ""
        if not self.rest or "\n" in tail:
            return tail
        body = tail.rstrip()
        for k in range(min(len(body), len(self.rest)), 0, -1):
            if body.endswith(self.rest[:k]):
                if self.brackets_decided and all(ch in ")]}" for ch in self.rest[:k]):
                    return tail
                return body[: len(body) - k].rstrip()
        return tail


class TrailingWhitespace(StreamFilter):
    """Whitespace at the very end of a completion is held and dropped."""

    def __init__(self) -> None:
        self.held = ""

    def push(self, text: str) -> str:
        buf = self.held + text
        body = buf.rstrip()
        self.held = buf[len(body) :]
        return body

    def flush(self) -> str:
        self.held = ""
        return ""
