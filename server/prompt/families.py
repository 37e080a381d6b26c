"""Model families: how each one spells fill-in-the-middle, and when it stops.

A family's template is the literal form from its model card, with `{prefix}`
and `{suffix}` holes. The markers in it are special tokens of the family's
tokenizer, so the prompt is tokenized as segments: markers as special tokens,
the user's text as plain text (a file that happens to contain `<fim_middle>`
must not steer the model).

The catalogue itself is data, families.toml, one table per family.

Recognition asks the loaded model's vocabulary whether the family's marker
tokens exist as single special tokens; the GGUF architecture breaks ties
between families that share markers. Config can always override it.

Why here and not in `models/`: a family is how a prompt is laid out (its
template, markers and repository tokens), which is the prompt stage's
business; `models/` keeps the model files (store, catalogue, prepare,
convert). Engines read a family's stop tokens and recognise it from here;
the catalogue checks its family names against `FAMILIES`.

The families: StarCoder, CodeLlama, DeepSeek-Coder, Qwen2.5-Coder, CodeGemma,
Codestral, and `none` (prefix only). Qwen and CodeGemma share markers and are
told apart by `<|repo_name|>` / `<|file_separator|>`. `--fim-family`
overrides recognition. The default model, SmolLM2-135M-Instruct, is `none`:
the prefix is completed and the suffix only shapes post-processing.

Order: a template is prefix-first (PSM) or suffix-first (SPM, Codestral's only
form); StarCoder and Code Llama were trained on both and carry an
`spm_template`. `--fim-order auto` (the default) uses SPM where a family has
it, for the KV cache: in PSM every keystroke changes the end of the prefix,
so the whole suffix after it is computed again (hundreds of tokens with an
editor's ~40 lines after the cursor); in SPM the suffix heads the prompt and
stays cached, and a keystroke costs the typed characters
(tests/integration/test_fim_order.py). `psm` / `spm` force one.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engines.vocab import Vocabulary

_HOLE = re.compile(r"\{(prefix|suffix)\}")


@dataclass(frozen=True)
class Segment:
    """One piece of a prompt: `special` pieces are tokenized as special tokens."""

    text: str
    special: bool = False


@dataclass(frozen=True)
class FimFamily:
    name: str
    description: str
    # Literal FIM prompt from the model card; None: the family has no FIM tokens.
    template: str | None = None
    # Special tokens that appear in the template.
    markers: tuple[str, ...] = ()
    # Tokens after which a completion is over (EOS/EOT, and markers the model
    # may emit to start a new hole or file).
    stop_tokens: tuple[str, ...] = ()
    # Special tokens whose presence in a vocabulary identifies the family.
    detect_tokens: tuple[str, ...] = ()
    # GGUF `general.architecture` values this family is usually built on.
    architectures: tuple[str, ...] = ()
    # Tokens for repository-level context, where the family has them.
    repo_tokens: dict[str, str] = field(default_factory=dict)
    example_models: tuple[str, ...] = ()
    # The suffix-first (SPM) form, for families trained on both orders; None: one order only.
    spm_template: str | None = None

    @property
    def supports_fim(self) -> bool:
        return self.template is not None

    @property
    def order(self) -> str:
        """`psm` (prefix, suffix, middle) or `spm` (suffix first), as the template has it."""
        if self.template is None:
            return "psm"
        return "spm" if self.template.index("{suffix}") < self.template.index("{prefix}") else "psm"

    @property
    def orders(self) -> tuple[str, ...]:
        return (self.order, "spm") if self.spm_template and self.order == "psm" else (self.order,)

    def in_order(self, order: str) -> FimFamily:
        """This family with its `order` template. `auto` picks suffix-first where the
        family was trained on it: the suffix then heads the prompt and stays in the
        KV cache while the user types (prefix first, every keystroke changes the
        prefix's end and the whole suffix after it is computed again)."""
        if order == "auto":
            order = "spm" if "spm" in self.orders else self.order
        if order == self.order:
            return self
        if order == "spm" and self.spm_template:
            return replace(self, template=self.spm_template, spm_template=None)
        raise ValueError(f"family {self.name} has no {order.upper()} form (it has: {', '.join(self.orders)})")

    def render(self, prefix: str, suffix: str) -> str:
        """The prompt as one string, exactly the model card's form."""
        return "".join(s.text for s in self.segments(prefix, suffix))

    def segments(self, prefix: str, suffix: str) -> list[Segment]:
        """The prompt as segments, markers flagged special, user text plain."""
        if self.template is None:
            return [Segment(prefix)] if prefix else []
        values = {"prefix": prefix, "suffix": suffix}
        out: list[Segment] = []
        pos = 0
        for hole in _HOLE.finditer(self.template):
            out.extend(self._literal_segments(self.template[pos : hole.start()]))
            if values[hole.group(1)]:
                out.append(Segment(values[hole.group(1)]))
            pos = hole.end()
        out.extend(self._literal_segments(self.template[pos:]))
        return out

    def _literal_segments(self, literal: str) -> list[Segment]:
        """Split template text between holes into marker and plain pieces."""
        if not literal:
            return []
        if not self.markers:
            return [Segment(literal)]
        pattern = "(" + "|".join(re.escape(m) for m in sorted(self.markers, key=len, reverse=True)) + ")"
        pieces = []
        for i, piece in enumerate(re.split(pattern, literal)):
            if piece:
                pieces.append(Segment(piece, special=(i % 2 == 1)))
        return pieces


def _catalogue() -> dict[str, FimFamily]:
    """The families of families.toml, by name, in its order."""
    with (Path(__file__).parent / "families.toml").open("rb") as f:
        tables = tomllib.load(f)
    return {name: FimFamily(name=name, **{k: tuple(v) if isinstance(v, list) else v for k, v in table.items()})
            for name, table in tables.items()}


FAMILIES: dict[str, FimFamily] = _catalogue()

# Most specific first: families that share markers (Qwen, CodeGemma) are told
# apart by the extra tokens in detect_tokens.
_DETECTION_ORDER = ("qwen2.5-coder", "codegemma", "starcoder", "deepseek-coder", "codellama", "codestral")


def get_family(name: str) -> FimFamily:
    try:
        return FAMILIES[name]
    except KeyError:
        known = ", ".join(FAMILIES)
        raise ValueError(f"unknown model family {name!r}; known families: {known}") from None


def detect_family(vocab: Vocabulary, architecture: str | None = None) -> FimFamily:
    """The family whose FIM tokens the vocabulary has (`has_special_token`), else `none`."""
    matches = [
        FAMILIES[name]
        for name in _DETECTION_ORDER
        if all(vocab.has_special_token(t) for t in FAMILIES[name].detect_tokens)
    ]
    if not matches:
        return FAMILIES["none"]
    for family in matches:
        if architecture and architecture in family.architectures:
            return family
    return matches[0]
