"""What every next-edit prompt format is given and gives back.

An `Excerpt` is the request made ready for a prompt: the text's lines, the
editable region (the lines the model rewrites) and the context around it,
the cursor, the parsed history (oldest first) and the related files. A
format turns it into a `Prompt`: segments (markers tokenized as special
tokens where the vocabulary has them, the user's text always as plain text,
so a file that contains `<|file_sep|>` cannot steer the model) and a
`prefill` the prompt ends with, which the model's output continues. From
the output (prefill included) the format takes the rewritten region, or
None when the model said there is nothing to change or did not answer in
its format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...prompt.families import Segment
from ..history import Edit
from ..protocol import RelatedFile


@dataclass(frozen=True)
class Excerpt:
    path: str
    lines: list[str]  # the text's lines, without line ends
    region: tuple[int, int]  # [start, end) of the editable region, indices into `lines`
    context: tuple[int, int]  # [start, end) of the lines shown around it (contains `region`)
    cursor: tuple[int, int]  # (index into `lines`, index into that line)
    edits: list[Edit] = field(default_factory=list)  # oldest first
    related: list[RelatedFile] = field(default_factory=list)
    original: list[str] | None = None  # the region's lines before the last edit of this file, if any
    text_offset: int = 0  # the file line `lines[0]` is
    starts_file: bool = True  # lines[0] is the file's first line

    def text(self, start: int, end: int) -> str:
        """Lines [start, end) each with its line end ("" for none)."""
        return "".join(line + "\n" for line in self.lines[start:end])

    def region_with(self, marker: str) -> tuple[str, str]:
        """The region's text before and after the cursor (where `marker` goes), line ends included."""
        start, end = self.region
        row, col = self.cursor
        before = self.text(start, row) + self.lines[row][:col]
        after = self.lines[row][col:] + "\n" + self.text(row + 1, end)
        return before, after

    @property
    def region_text(self) -> str:
        """The region as the model rewrites it: its lines, each with its line end."""
        return self.text(*self.region)

    @property
    def before(self) -> str:
        return self.text(self.context[0], self.region[0])

    @property
    def after(self) -> str:
        return self.text(self.region[1], self.context[1])


@dataclass(frozen=True)
class Prompt:
    segments: list[Segment]
    prefill: str = ""  # the prompt's last segment too; the model's output continues it

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments)


class Builder:
    """Collects a prompt's segments: `mark` for a format's markers, `add` for everything else."""

    def __init__(self) -> None:
        self.segments: list[Segment] = []

    def mark(self, marker: str) -> Builder:
        self.segments.append(Segment(marker, special=True))
        return self

    def add(self, text: str) -> Builder:
        if text:
            if self.segments and not self.segments[-1].special:
                self.segments[-1] = Segment(self.segments[-1].text + text)
            else:
                self.segments.append(Segment(text))
        return self

    def prompt(self, prefill: str = "") -> Prompt:
        self.add(prefill)
        return Prompt(self.segments, prefill)


def between(text: str, start: str, end: str) -> str | None:
    """The text after the first `start` (and the line end after it) up to `end` (or the end); None
    without `start`."""
    at = text.find(start)
    if at < 0:
        return None
    rest = text[at + len(start):]
    rest = rest[1:] if rest.startswith("\n") else rest
    stop = rest.find(end)
    return rest if stop < 0 else rest[:stop]


def cut_at(text: str, stops: tuple[str, ...]) -> str:
    """`text` up to the first of `stops`."""
    for stop in stops:
        at = text.find(stop)
        if at >= 0:
            text = text[:at]
    return text


class Format:
    """A next-edit prompt format. `above` / `below`: the editable region's lines above and below
    the cursor's line; `context`: lines shown around the region on each side; `stops`: strings that
    end the model's answer (the engine stops at the model's end tokens too)."""

    name: str
    source: str  # where the layout comes from
    above: int
    below: int
    context: int
    stops: tuple[str, ...]

    def __init_subclass__(cls, *, name: str, source: str, region: tuple[int, int], context: int,
                          stops: tuple[str, ...], **kwargs) -> None:
        """A format declares what it is in its class line: `class X(Format, name=..., region=(above,
        below), context=..., stops=..., source=...)`."""
        super().__init_subclass__(**kwargs)
        cls.name, cls.source, cls.context, cls.stops = name, source, context, stops
        cls.above, cls.below = region

    def render(self, x: Excerpt) -> Prompt:
        raise NotImplementedError

    def parse(self, output: str) -> str | None:
        """The rewritten region (its lines with line ends), or None for "no edit"."""
        raise NotImplementedError


def ensure_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"
