"""Cross-file snippets: what other files declare, within a token budget.

Clients may send snippets of other files (`input_extra`, as llama.cpp's
server takes them). The file around the cursor always comes first: the
snippets get only the room the file leaves in the prompt, at most
`MAX_CROSSFILE_TOKENS`. Into that room go the declarations and signatures that
tree-sitter extracts from the snippets (`declarations.py`), ranked: those whose
names the code near the cursor uses first, then the rest in the client's
order. The chosen ones are written in a stable order (snippet, then position
in it), not in rank order, so that the head of the prompt stays
byte-identical from one keystroke to the next while the snippets and the
choice do not change, and the engine's KV cache keeps it.

Layout by model family: families with repository tokens (Qwen2.5-Coder's
`<|repo_name|>`/`<|file_sep|>`, StarCoder's `<repo_name>`/`<file_sep>`) get
the repository format, each snippet as a file and the current file last;
every other family gets each snippet under a comment with its path.

Numbers: `input_extra` is at most 32 files of 64 KiB (api/protocol.py);
MAX_CROSSFILE_TOKENS is 1,024; "near the cursor" is the 30 lines above it
and the 10 below. The snippets go in front of everything, before the
anchored window (fitting.py).

(Named "cross-file" rather than "context": in the prompt package
"context" is only ever the model's context window.)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..engines.vocab import Vocabulary
from ..languages import detect_language
from .declarations import Declaration, declarations, identifiers
from .families import FimFamily, Segment
from .fitting import BuiltPrompt

__all__ = ["ExtraFile", "MAX_CROSSFILE_TOKENS", "crossfile_head", "declarations", "with_crossfile"]

MAX_CROSSFILE_TOKENS = 1024
# The code that decides which declarations rank first: lines around the cursor.
_CURSOR_LINES_ABOVE = 30
_CURSOR_LINES_BELOW = 10
_REPO_NAME = "workspace"
_LINE_COMMENT = {"python": "#"}  # every other language with a grammar uses //


@dataclass(frozen=True)
class ExtraFile:
    filename: str
    text: str


class _Tokens:
    """Counts tokens; what a Segment costs is all the assembly needs of a vocabulary."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab

    def __call__(self, seg: Segment) -> int:
        return len(self.vocab.tokenize(seg.text, special=seg.special, add_bos=False))


def _comment(filename: str | None) -> str:
    return _LINE_COMMENT.get(detect_language(None, filename) or "python", "//") if filename else "#"


def _ranked(files: list[ExtraFile], used: set[str]) -> list[tuple[int, Declaration]]:
    """(file index, declaration), the ones the cursor's code uses first, then in the client's order."""
    found = [(i, d) for i, f in enumerate(files) for d in declarations(f.filename, f.text)]
    return sorted(found, key=lambda x: (not (x[1].names & used), x[0], x[1].order))


def _file_segments(family: FimFamily, filename: str, body: str) -> list[Segment]:
    if family.repo_tokens:
        return [Segment(family.repo_tokens["file_sep"], special=True), Segment(f"{filename}\n{body}\n")]
    return [Segment(f"{_comment(filename)} {filename}\n{body}\n\n")]


def crossfile_head(vocab: Vocabulary, family: FimFamily, files: list[ExtraFile], *, prefix: str, suffix: str,
                   filepath: str | None, budget: int) -> list[Segment]:
    """Segments to put in front of the prompt, at most `budget` tokens; [] when
    nothing fits or the snippets declare nothing."""
    return _head(vocab, family, files, prefix=prefix, suffix=suffix, filepath=filepath, budget=budget)[0]


def _head(vocab: Vocabulary, family: FimFamily, files: list[ExtraFile], *, prefix: str, suffix: str,
          filepath: str | None, budget: int) -> tuple[list[Segment], list[int]]:
    """`crossfile_head`'s segments, and the indexes in `files` of the files they hold."""
    budget = min(budget, MAX_CROSSFILE_TOKENS)
    if budget <= 0 or not files:
        return [], []
    count = _Tokens(vocab)
    near = "\n".join(prefix.split("\n")[-_CURSOR_LINES_ABOVE:] + suffix.split("\n")[:_CURSOR_LINES_BELOW])
    ranked = _ranked(files, identifiers(near))
    if not ranked:
        return [], []
    current = filepath or "current file"
    repo = family.repo_tokens
    # What every file costs whatever is chosen: the repository header and the current file's own header.
    fixed = ([Segment(repo["repo_name"], special=True), Segment(f"{_REPO_NAME}\n")] if repo else [])
    tail = ([Segment(repo["file_sep"], special=True), Segment(f"{current}\n")] if repo
            else ([Segment(f"{_comment(filepath)} {filepath}\n")] if filepath else []))
    used_tokens = sum(count(s) for s in fixed + tail)
    chosen: dict[int, list[Declaration]] = {}
    for index, decl in ranked:
        # A file's header is paid once, with its first declaration.
        header = 0 if index in chosen else count(_file_segments(family, files[index].filename, "")[-1]) + 2
        cost = count(Segment(decl.text + "\n")) + header
        if used_tokens + cost > budget:
            continue
        used_tokens += cost
        chosen.setdefault(index, []).append(decl)

    def layout() -> list[Segment]:
        segments = list(fixed)
        for index in sorted(chosen):  # stable order: the head stays the same while the choice does
            body = "\n".join(d.text for d in sorted(chosen[index], key=lambda d: d.order))
            segments += _file_segments(family, files[index].filename, body)
        return segments + tail

    segments = layout()
    # Separate counting can be off by a token at the seams: drop whole files from the end until it fits.
    while chosen and sum(count(s) for s in segments) > budget:
        chosen.pop(max(chosen))
        segments = layout()
    return (segments, sorted(chosen)) if chosen else ([], [])


def with_crossfile(vocab: Vocabulary, family: FimFamily, built: BuiltPrompt, files: list, *,
                   filepath: str | None, budget: int) -> BuiltPrompt:
    """`built` (the file's prompt, already within `budget`) with the snippets'
    declarations in front, in the room it leaves, and which files they came
    from. `files`: objects with `filename` and `text` (the request's `input_extra`)."""
    if not built.tokens:
        return built
    snippets = [ExtraFile(f.filename, f.text) for f in files]
    head, chosen = _head(vocab, family, snippets, prefix=built.prefix, suffix=built.suffix, filepath=filepath,
                         budget=budget - len(built.tokens))
    if not head:
        return built
    bos = vocab.tokenize("", add_bos=True)
    body = built.tokens[len(bos):] if bos and built.tokens[: len(bos)] == bos else built.tokens
    tokens = list(bos)
    for seg in head:
        tokens += vocab.tokenize(seg.text, special=seg.special)
    tokens += body
    if len(tokens) > budget:
        return built
    return replace(built, tokens=tokens, crossfile_files=tuple(snippets[i].filename for i in chosen),
                   crossfile_tokens=len(tokens) - len(built.tokens))
