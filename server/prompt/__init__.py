"""The prompt stage: one prompt of a validated completion request in, the engine's input out.

`render_prompt` is the one way through, for the completion path and for
`POST /v1/completions/render` alike (both through `CompletionService.prepare`),
so the render route shows exactly what the model sees. In order:

1. `model_prefix`: an empty cursor line's indentation is left out (not in
   raw mode, nor for a prompt given as token ids);
2. `anchor_window`: a long prefix starts at a content-defined line (`--no-anchor`);
3. token healing: the engine names the text of the prefix's last token
   (`Engine.heal_text`, "" where it does not heal); it is cut off here and
   becomes the constraint on the first generated token (`heal`);
4. `build_prompt`: the family's layout, trimmed to the budget;
5. `with_crossfile`: the declarations of `input_extra` in the room left;
6. `build_cold_prompt`: the cold window, only where the engine
   `uses_cold_window`; while other editor sessions are typing or have
   requests in the engine (the caller says how many: `busy_sessions`) it is shorter
   (`cold_target`); where the session's last cold window (`kept`, its
   first lines) still starts a line of the prefix, that window grown to the
   cursor is offered beside it, and the engine takes whichever its cache
   holds more of (`kept_tokens`); where the window is longer than the
   smallest share (`smallest_cold_target`), that one too (`small_tokens`),
   which the engine takes instead when other sessions come to share it
   (they may come a moment after this request was rendered);
7. the lookup tokens: the suffix's head, for speculative drafts.
Steps 4-7 tokenize through the request's cache salt's memory of tokenized
lines (tokens.py), so a keystroke tokenizes only what changed.

Words: "context" could mean three things; here it means only the first:
- context window: the model's `n_ctx` tokens; here it is only ever the
  `budget`, `n_ctx - max_tokens` (fitting.py). The llama.cpp context object
  is the engine's business (engines/llama_cpp/context.py).
- the cursor's code: `prefix` and `suffix`, the text before and after the
  cursor that the request sends.
- cross-file snippets: what other files (`input_extra`) declare
  (crossfile.py, declarations.py).

Modules: families.py (FIM families: templates, markers, stop tokens,
recognition), fitting.py (layout and trimming, the anchored and the cold
window), crossfile.py and declarations.py, tokens.py (tokenizing a piece
at a time). The vocabulary is the one `Vocabulary` protocol of
engines/vocab.py, which every engine satisfies.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codefill.config import default

from .crossfile import with_crossfile
from .families import FimFamily
from .fitting import (BuiltPrompt, anchor_window, build_cold_prompt, build_prompt, kept_window, model_prefix,
                      window_head, window_prompt)

if TYPE_CHECKING:
    from ..api.protocol import CompletionRequest
    from ..engines.base import Engine
    from ..engines.vocab import Vocabulary

__all__ = ["ColdStart", "EngineInput", "PromptSettings", "render_prompt"]

log = logging.getLogger("codefill.prompt")

# How much of the suffix speculative decoding may draft from (its nearest code).
LOOKUP_SUFFIX_CHARS = 4000


@dataclass(frozen=True)
class PromptSettings:
    """The prompt stage's part of the settings (codefill/config.py), with their defaults."""

    anchor: bool = default("anchor_window")  # --no-anchor turns it off
    token_healing: bool = default("token_healing")  # --no-token-healing
    cold_window: int = default("cold_window")  # --cold-window TOKENS; 0: off


@dataclass(frozen=True)
class ColdStart:
    """Where a cold window starts: its first lines (`fitting.window_head`), and the target it was
    built for (which sizes its share of the suffix). The serving layer keeps the one a session's engine
    used, and offers it again with the next keystroke (`render_prompt`'s `kept`)."""

    head: str
    target: int


@dataclass(frozen=True)
class EngineInput:
    """What the engine is given for one prompt (and what the render route reports)."""

    tokens: list[int]  # the full prompt
    cold_tokens: list[int] | None  # the cold window's prompt; None: none
    heal: str  # text taken off the prompt's end that the first token must begin with
    lookup_tokens: tuple[int, ...]  # the code after the cursor, for speculative drafts
    built: BuiltPrompt  # the prompt's prefix and suffix as used, what trimming dropped, the cross-file snippets
    cold_start: ColdStart | None = None  # where the cold window starts
    kept_tokens: list[int] | None = None  # the session's last cold window grown to the cursor; None: none
    kept_start: ColdStart | None = None  # ... and where it starts (`kept`, as given)
    small_tokens: list[int] | None = None  # the cold window at the smallest share; None: none (or the same)
    small_start: ColdStart | None = None  # ... and where it starts

    @property
    def crossfile_files(self) -> tuple[str, ...]:
        return self.built.crossfile_files

    @property
    def crossfile_tokens(self) -> int:
        return self.built.crossfile_tokens


def render_prompt(text: str, token_ids: list[int] | None, req: CompletionRequest, *, mode: str, max_tokens: int,
                  engine: Engine, family: FimFamily, settings: PromptSettings, busy_sessions: int = 0,
                  vocab: Vocabulary | None = None, kept: ColdStart | None = None) -> EngineInput:
    """The engine's input for one prompt of `req`: `text` (the client's token ids
    `token_ids` where it sent ids), in the resolved post-processing `mode`.
    `busy_sessions`: editor sessions typing or with requests in the engine now
    (the cold window shrinks as they grow). `vocab`: the engine's vocabulary through the
    request's cache salt's memory of tokenized lines (tokens.py); default: the
    engine's own. `kept`: where the session's last cold window started (the serving layer's memory)."""
    vocab = vocab if vocab is not None else engine
    editor = mode != "raw" and token_ids is None
    shown = text
    if editor:
        shown = model_prefix(shown)
        if settings.anchor:
            shown = anchor_window(shown)
    heal = engine.heal_text(shown) if settings.token_healing and token_ids is None else ""
    if heal:
        shown = shown[: -len(heal)]
    budget = engine.info.n_ctx - max_tokens
    built = _build(shown, token_ids, req, vocab=vocab, family=family, budget=budget)
    cold = kept_prompt = small = None
    target = small_target = 0
    if editor and engine.uses_cold_window:
        target = cold_target(settings.cold_window, busy_sessions)
        cold = _cold_window(built, vocab=vocab, family=family, target=target, budget=budget)
        small_target = smallest_cold_target(settings.cold_window)
        if cold is not None and small_target < target:
            small = _cold_window(built, vocab=vocab, family=family, target=small_target, budget=budget)
            if small is not None and small.tokens == cold.tokens:
                small = None
        if kept is not None:
            kept_prompt = _kept_window(built, kept, vocab=vocab, family=family, budget=budget,
                                       longest=2 * settings.cold_window)
            if kept_prompt is not None and cold is not None and kept_prompt.tokens == cold.tokens:
                kept_prompt = None
    # The code after the cursor is a source of speculative drafts even where the template leaves it out.
    lookup = tuple(vocab.tokenize(req.suffix[:LOOKUP_SUFFIX_CHARS])) if req.suffix else ()
    return EngineInput(built.tokens, cold.tokens if cold is not None else None, heal, lookup, built,
                       cold_start=_start(cold, target) if cold is not None else None,
                       kept_tokens=kept_prompt.tokens if kept_prompt is not None else None,
                       kept_start=kept if kept_prompt is not None else None,
                       small_tokens=small.tokens if small is not None else None,
                       small_start=_start(small, small_target) if small is not None else None)


def _build(text: str, token_ids: list[int] | None, req: CompletionRequest, *, vocab: Vocabulary, family: FimFamily,
           budget: int) -> BuiltPrompt:
    if token_ids is not None and req.suffix is None:
        ids = token_ids[-budget:]
        return BuiltPrompt(ids, text, "", trimmed_prefix_chars=int(len(ids) < len(token_ids)))
    built = build_prompt(vocab, family, text, req.suffix, budget)
    if built.trimmed:
        log.warning("prompt trimmed to fit the context: %d prefix and %d suffix characters dropped",
                    built.trimmed_prefix_chars, built.trimmed_suffix_chars)
    if req.input_extra:  # other files' declarations, in the room the file leaves
        built = with_crossfile(vocab, family, built, req.input_extra, filepath=req.filepath, budget=budget)
    return built


def cold_target(cold_window: int, sessions: int) -> int:
    """The cold window's size while `sessions` editor sessions are typing (or have
    requests in the engine): they share its prompt speed (one cold window is about a second of a
    CPU's prefill), so each gets its share of `--cold-window`, down to a third of
    it. Four typists at new places then cost what one did, not four times that
    (docs/BENCHMARKS.md, "Where four typists' time goes")."""
    return max(cold_window // max(1, sessions), smallest_cold_target(cold_window))


def smallest_cold_target(cold_window: int) -> int:
    """The cold window's size however many sessions share the engine: a third of `--cold-window`."""
    return cold_window // 3


def _cold_window(full: BuiltPrompt, *, vocab: Vocabulary, family: FimFamily, target: int,
                 budget: int) -> BuiltPrompt | None:
    """The cold window (engines/llama_cpp/scheduler.py), `target` long, where the full prompt is much
    longer."""
    if not target or len(full.tokens) < 2 * target:
        return None
    built = build_cold_prompt(vocab, family, full, target, budget)
    return built if built is not None and len(built.tokens) < len(full.tokens) * 2 // 3 else None


def _kept_window(full: BuiltPrompt, kept: ColdStart, *, vocab: Vocabulary, family: FimFamily, budget: int,
                 longest: int) -> BuiltPrompt | None:
    """The window that starts where the session's last one did (`kept`), to the cursor: None where the
    prefix no longer holds that start, or the window has grown past `longest` tokens (or two thirds of
    the full prompt), or shrunk below half its target (the cursor moved up)."""
    text = kept_window(full.prefix, kept.head)
    if text is None or len(text) >= len(full.prefix):
        return None
    built = window_prompt(vocab, family, full, text, kept.target, budget)
    if not kept.target // 2 <= len(built.tokens) <= min(longest, len(full.tokens) * 2 // 3):
        return None
    return built


def _start(window: BuiltPrompt, target: int) -> ColdStart | None:
    head = window_head(window.prefix)
    return ColdStart(head, target) if head is not None else None


def first_prompt_tokens(prefix: str, suffix: str, *, vocab: Vocabulary, family: FimFamily, target: int,
                        budget: int, cold_saving: int) -> int:
    """How many tokens the llama.cpp engine evaluates for an editor's keystroke at a place its cache holds
    nothing of, at the default settings: the cold window's (`target` long), or the full prompt's where
    there is none or it saves no more than `cold_saving` (the engine's rule, scheduler.py `_place`).
    What the bench's ceiling counts for a place's first keystroke (codefill/bench/ceiling.py)."""
    full = build_prompt(vocab, family, anchor_window(model_prefix(prefix)), suffix, budget)
    cold = _cold_window(full, vocab=vocab, family=family, target=target, budget=budget)
    short = len(cold.tokens) if cold is not None else len(full.tokens)
    return short if len(full.tokens) - short > cold_saving else len(full.tokens)
