"""Prompt formats of the open next-edit models, and which one a model gets.

| format | models | layout |
|---|---|---|
| `zeta` | Zed's Zeta (zed-industries/zeta) | instruction, fenced diffs, region markers (zeta.py) |
| `zeta2` | models trained on Zed's zeta_prompt `V0113Ordered` | file separators, diffs, FIM current/updated (zeta2.py) |
| `sweep` | Sweep's next-edit models (sweepai/sweep-next-edit-*) | original/current/updated blocks (sweep.py) |
| `instinct` | Continue's Instinct (continuedev/instinct) | ChatML, region markers (instinct.py) |

`--next-edit-format auto` (the default) recognises the model by its names
(the served name and the model file's name: `zeta-2`/`zeta2`, `zeta`,
`sweep`, `instinct`); a model that matches none gets `sweep`. Why Sweep's:
its prompt is the file and its blocks separated by `<|file_sep|>`, the
repository layout Qwen2.5-Coder (the base of every model above) and other
code models were pretrained on, with no instructions and no markers inside
the code; it needs no chat template; and the answer ends where a code model
ends a file (the next separator or end of text). A model that knows none of
this (the default SmolLM2) still gets a well-formed prompt whose natural
continuation is the block again, which is "no edit".

`excerpt` cuts the request's text into what a format shows: the editable
region (the format's lines above and below the cursor's line) and the
context around it, snapped to steps of its own size so that the prompt's
start stays the same (and cached) while the cursor moves within a step.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from ..history import Edit, reverted
from ..protocol import RelatedFile
from .base import Excerpt, Format, Prompt
from .instinct import Instinct
from .sweep import Sweep
from .zeta import Zeta
from .zeta2 import Zeta2

FORMATS: dict[str, Format] = {f.name: f for f in (Zeta(), Zeta2(), Sweep(), Instinct())}
DEFAULT_FORMAT = "sweep"
FORMAT_SETTINGS = ("auto", *FORMATS)

_RECOGNISED = (
    (re.compile(r"zeta[-_ .]?2"), "zeta2"),
    (re.compile(r"zeta"), "zeta"),
    (re.compile(r"sweep"), "sweep"),
    (re.compile(r"instinct"), "instinct"),
)


def recognise(*names: str | None) -> Format:
    """The format of the model named `names` (served names, model file paths), else the default."""
    text = " ".join(PurePath(n).name.lower() for n in names if n)
    for pattern, name in _RECOGNISED:
        if pattern.search(text):
            return FORMATS[name]
    return FORMATS[DEFAULT_FORMAT]


def choose(setting: str, *names: str | None) -> Format:
    """`setting` (a format's name, or "auto": recognised from `names`)."""
    if setting == "auto":
        return recognise(*names)
    try:
        return FORMATS[setting]
    except KeyError:
        raise ValueError(f"unknown next-edit format {setting!r}; known: {', '.join(FORMAT_SETTINGS)}") from None


def excerpt(fmt: Format, *, path: str, lines: list[str], cursor: tuple[int, int], edits: list[Edit],
            related: list[RelatedFile], text_offset: int, last_edit: Edit | None = None,
            context: int | None = None) -> Excerpt:
    """What `fmt` shows of the text `lines` (file line `text_offset` on) with the cursor at `cursor`
    (indices into `lines`). `last_edit`: the newest edit of this file, which the region's `original`
    undoes. `context`: lines around the region, when fewer than the format's are to be shown."""
    row = cursor[0]
    n = len(lines)
    region = (max(0, row - fmt.above), min(n, row + fmt.below + 1))
    size = max(1, fmt.context if context is None else context)
    anchor = (row // size) * size
    shown = (min(region[0], max(0, anchor - size)), max(region[1], min(n, anchor + 2 * size)))
    if context is not None and context < fmt.context:
        shown = (max(shown[0], region[0] - context), min(shown[1], region[1] + context))
    original = None
    if last_edit is not None:
        original = reverted(last_edit, lines, text_offset)[region[0]:region[1]]
    return Excerpt(path=path, lines=lines, region=region, context=shown, cursor=cursor, edits=edits,
                   related=related, original=original, text_offset=text_offset, starts_file=text_offset == 0)


__all__ = ["DEFAULT_FORMAT", "FORMATS", "FORMAT_SETTINGS", "Excerpt", "Format", "Prompt", "choose", "excerpt",
           "recognise"]
