"""A scripted engine for fast unit tests of shapes and edge cases.

One character is one token (ids are code points), so prompt lengths are easy
to reason about. It answers with `script` (or `script_for(prompt)`), one
character per token. Never the only proof of a behaviour: the integration
tests run the same paths on the real model.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from codefill.server.engines.base import GeneratedToken, GenerationRequest, GenerationResult, ModelInfo


class FakeEngine:
    max_sequences = 64  # like a gateway: the fair queue rarely holds anyone back
    uses_cold_window = False
    sessions_in_flight = 0

    def __init__(self, script: str = "hello", *, n_ctx: int = 512, family: str = "none",
                 script_for: Callable[[str], str] | None = None, delay: float = 0.0,
                 special_tokens: tuple[str, ...] = ()) -> None:
        self.script = script
        self.script_for = script_for
        self.delay = delay
        self.special_tokens = special_tokens
        self._info = ModelInfo(id="fake", path="/dev/null", n_ctx=n_ctx, architecture="fake", family=family,
                               created=0)
        self._ready = False
        self.requests: list[GenerationRequest] = []
        self.generated = 0  # tokens produced, across requests

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def n_vocab(self) -> int:
        return 0x110000

    async def start(self) -> None:
        self._ready = True

    async def close(self) -> None:
        self._ready = False

    def tokenize(self, text: str, *, special: bool = False, add_bos: bool = False) -> list[int]:
        if special and text in self.special_tokens:
            return [-1 - self.special_tokens.index(text)]
        return [ord(c) for c in text]

    def detokenize(self, tokens: list[int]) -> str:
        return "".join(chr(t) if t >= 0 else self.special_tokens[-1 - t] for t in tokens)

    def has_special_token(self, text: str) -> bool:
        return text in self.special_tokens

    def heal_text(self, prompt: str) -> str:
        return ""

    async def generate(self, request: GenerationRequest, result: GenerationResult) -> AsyncIterator[GeneratedToken]:
        self.requests.append(request)
        result.prompt_tokens = len(request.prompt_tokens)
        text = self.script_for(self.detokenize(request.prompt_tokens)) if self.script_for else self.script
        if request.max_tokens == 0:
            result.finish_reason = "length"
            return
        for i, ch in enumerate(text):
            if self.delay:
                await asyncio.sleep(self.delay)
            self.generated += 1
            result.completion_tokens = i + 1
            logprob = -0.5 if request.top_logprobs is not None else None
            top = {ch: -0.5} if request.top_logprobs else ({} if request.top_logprobs == 0 else None)
            yield GeneratedToken(ord(ch), ch, logprob, top)
            if i + 1 >= request.max_tokens:
                result.finish_reason = "length"
                return
        result.finish_reason = "stop"
