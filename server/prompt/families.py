"""Model families: how each one spells fill-in-the-middle, and when it stops.

A family's template is the literal form from its model card, with `{prefix}`
and `{suffix}` holes. The markers in it are special tokens of the family's
tokenizer, so the prompt is tokenized as segments: markers as special tokens,
the user's text as plain text (a file that happens to contain `<fim_middle>`
must not steer the model).

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
from dataclasses import dataclass, field, replace
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
    template: str | None
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


FAMILIES: dict[str, FimFamily] = {
    f.name: f
    for f in [
        FimFamily(
            name="starcoder",
            description="StarCoder, StarCoder2, SantaCoder",
            template="<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>",
            markers=("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
            stop_tokens=("<|endoftext|>", "<file_sep>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<fim_pad>"),
            detect_tokens=("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
            architectures=("starcoder", "starcoder2", "gpt_bigcode"),
            repo_tokens={"repo_name": "<repo_name>", "file_sep": "<file_sep>"},
            example_models=("bigcode/starcoder2-3b", "bigcode/starcoderbase-1b"),
            # Trained with half of its FIM examples suffix-first (the SPM variant of Bavarian et al.).
            spm_template="<fim_prefix><fim_suffix>{suffix}<fim_middle>{prefix}",
        ),
        FimFamily(
            name="codellama",
            description="Code Llama (base and code variants; 7B/13B have FIM)",
            # Spacing is part of the format: sentencepiece puts a space before the prefix.
            template="<PRE> {prefix} <SUF>{suffix} <MID>",
            markers=("<PRE>", "<SUF>", "<MID>"),
            stop_tokens=("<EOT>", "</s>"),
            detect_tokens=("<PRE>", "<SUF>", "<MID>", "<EOT>"),
            architectures=("llama",),
            example_models=("codellama/CodeLlama-7b-hf", "codellama/CodeLlama-13b-hf"),
            # Code Llama's infilling was trained in both orders; this is its suffix-first form.
            spm_template="<PRE> <SUF>{suffix} <MID> {prefix}",
        ),
        FimFamily(
            name="deepseek-coder",
            description="DeepSeek-Coder (1.3B/6.7B/33B base), DeepSeek-Coder-V2-Lite",
            template="<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>",
            markers=("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
            stop_tokens=("<|EOT|>", "<｜end▁of▁sentence｜>", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
            detect_tokens=("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
            architectures=("llama", "deepseek2"),
            example_models=("deepseek-ai/deepseek-coder-1.3b-base", "deepseek-ai/deepseek-coder-6.7b-base"),
        ),
        FimFamily(
            name="qwen2.5-coder",
            description="Qwen2.5-Coder (0.5B to 32B), Qwen3-Coder",
            template="<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>",
            markers=("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
            stop_tokens=(
                "<|endoftext|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<|im_end|>",
                "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>",
            ),
            detect_tokens=("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|repo_name|>"),
            architectures=("qwen2", "qwen3", "qwen3moe"),
            repo_tokens={"repo_name": "<|repo_name|>", "file_sep": "<|file_sep|>"},
            example_models=("Qwen/Qwen2.5-Coder-1.5B", "Qwen/Qwen2.5-Coder-7B"),
        ),
        FimFamily(
            name="codegemma",
            description="CodeGemma 2B and 7B",
            template="<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>",
            markers=("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
            stop_tokens=("<|file_separator|>", "<eos>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
            detect_tokens=("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_separator|>"),
            architectures=("gemma",),
            example_models=("google/codegemma-2b", "google/codegemma-7b"),
        ),
        FimFamily(
            name="codestral",
            description="Codestral (suffix first: SPM order)",
            template="[SUFFIX]{suffix}[PREFIX]{prefix}",
            markers=("[SUFFIX]", "[PREFIX]"),
            stop_tokens=("</s>", "[SUFFIX]", "[PREFIX]"),
            detect_tokens=("[SUFFIX]", "[PREFIX]"),
            architectures=("llama",),
            example_models=("mistralai/Codestral-22B-v0.1",),
        ),
        FimFamily(
            name="none",
            description="No FIM tokens: the prefix is completed, the suffix only shapes post-processing",
            template=None,
            stop_tokens=("<|endoftext|>", "<|im_end|>", "</s>", "<eos>", "<|EOT|>", "<|eot_id|>"),
        ),
    ]
}

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
