"""The Engine protocol: what the serving layer needs from an inference engine.

An engine turns prompt tokens into a stream of generated tokens. Everything
else (FIM templates, stop strings, post-processing, sessions) lives above it,
once, so a second engine (vLLM) gets all of it for free.

Cancellation is part of the contract: when the consumer stops iterating
(`aclose()`, a task cancelled because the client left), the engine stops
generating within one token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ..errors import APIError
from .vocab import Vocabulary


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.0
    top_p: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int | None = None


@dataclass(frozen=True)
class GenerationRequest:
    prompt_tokens: list[int]
    max_tokens: int
    sampling: SamplingParams = field(default_factory=SamplingParams)
    # How many alternatives to report per token (OpenAI `logprobs`); None: no logprobs.
    top_logprobs: int | None = None
    # Identifies the request in logs and metrics.
    request_id: str = ""
    # The editor session, already scoped by the authenticated tenant (the
    # serving layer's `session_key(tenant, user)`): the engine keeps each
    # session's cached state, and a newer request of a session supersedes an
    # older one. Engines treat it as an opaque string.
    session: str | None = None
    # Whether requests of the session supersede each other. False for a session the server chose
    # for a client that sent none (service/sessionless.py): two such clients may share one and must
    # not cancel each other's requests; its cached state is kept all the same.
    supersede: bool = True
    # Whose cached KV / prefix state this request may reuse: requests whose
    # salts differ never share any (the same idea as vLLM's `cache_salt`: a
    # shared prefix cache leaks prompts through timing). The tenant's name, or
    # a group of tenants an operator lets share, or one of them narrowed by the
    # request's own `cache_salt` (`scoped`); None: open mode, all share.
    cache_salt: str | None = None
    # Who sent it (the API key's name) and the tenant's weight: an engine that batches shares
    # each step between tenants (llama_cpp/shares.py). None: open mode, one tenant.
    tenant: str | None = None
    weight: float = 1.0
    # Tokens the completion may quote besides the prompt (the code after the
    # cursor when the family's template leaves it out): speculative decoding
    # drafts from the prompt and these.
    lookup_tokens: tuple[int, ...] = ()
    # Token healing: text taken off the prompt's end (engine.heal_text) that
    # the first generated token must begin with; it is not part of the answer.
    heal: str = ""
    # Cold window: a shorter prompt (the last few hundred tokens before the
    # cursor) an engine may answer instead when its cache holds too little of
    # `prompt_tokens`; it then evaluates the full prompt in idle time. Engines
    # that do not keep a cache of their own ignore it.
    cold_tokens: list[int] | None = None
    # The session's last cold window, grown to the cursor (its start kept): an engine takes it instead of
    # `cold_tokens` where its cache holds more of it (a window's start moves as the cursor does and as
    # the typists sharing the engine come and go; its cache stays where it was).
    kept_tokens: list[int] | None = None
    # The cold window at the smallest share of the engine: taken instead of the other two where other
    # sessions share the engine (they may come after this request was rendered, sized for fewer).
    small_tokens: list[int] | None = None
    # When the answer is of no use any more (time.monotonic() seconds; None: no deadline), and
    # whose it is. Hard: the client's own (`deadline_ms`): a request that can no longer finish by
    # then is dropped (DeadlineMissed). Soft: learned from the session's typing rhythm (the next
    # keystroke usually comes then): it orders the engine's work (earliest deadline first), and a
    # request that can no longer make it waits behind those that can, but is still answered.
    deadline: float | None = None
    deadline_hard: bool = False


@dataclass(frozen=True)
class GeneratedToken:
    token_id: int
    # Text this token completes. Empty while a multi-byte character is still
    # incomplete; the bytes come out with the token that finishes it.
    text: str
    logprob: float | None = None
    top_logprobs: dict[str, float] | None = None


@dataclass
class GenerationResult:
    """Filled in by the engine as it goes; complete when the stream ends."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Prompt tokens whose KV state was reused instead of recomputed.
    cached_prompt_tokens: int = 0
    # Speculative decoding: tokens drafted, and how many of them the model kept.
    draft_tokens: int = 0
    accepted_draft_tokens: int = 0
    # The engine answered from the request's cold window; `cold_kept`: from the kept one (kept_tokens);
    # `cold_small`: from the small one (small_tokens).
    cold_window: bool = False
    cold_kept: bool = False
    cold_small: bool = False
    # "deadline": dropped because it could no longer finish before its hard deadline.
    finish_reason: Literal["stop", "length", "cancelled", "deadline"] | None = None


class Superseded(Exception):
    """A newer request of the same session took this one's place."""


class EngineError(APIError):
    """A request the engine cannot serve, said the way its client should hear it: the HTTP
    status (OpenAI's for the same failure), an error code and headers (Retry-After). It
    reaches the client as it is."""


class DeadlineMissed(EngineError):
    """A request dropped because it could no longer finish before its (hard) deadline: 503,
    code `deadline_exceeded`. Raised by engines that schedule by deadline."""

    def __init__(self, message: str = "this completion could not finish before its deadline "
                 "(deadline_ms) and was dropped early; ask again, with a later deadline if it is "
                 "still wanted") -> None:
        super().__init__(503, message, param="deadline_ms", code="deadline_exceeded")


@dataclass(frozen=True)
class ModelInfo:
    id: str
    path: str
    n_ctx: int
    architecture: str | None
    family: str
    created: int


class Engine(Vocabulary, Protocol):
    """An inference engine behind codefill's API; its vocabulary (tokenize,
    detokenize, has_special_token, n_vocab) is what the prompt stage uses."""

    @property
    def info(self) -> ModelInfo: ...

    @property
    def ready(self) -> bool: ...

    # How many requests the engine works on at once (its batch): the serving
    # layer's fair queue (server/service/fair.py) lets at most this many in and
    # keeps the rest, one queue per tenant. Engines may also offer
    # `cache_stats() -> dict` and `async drop_cache(*, salt=None, session=None)
    # -> int` (forget the cached state of a salt and the salts narrowed from it
    # (tenants.py `salt_covers`), or of one session) for the admin API.
    max_sequences: int
    # Whether the engine keeps a cache of its own in which a cold window pays
    # (GenerationRequest.cold_tokens): the prompt stage builds one only then.
    uses_cold_window: bool
    # Editor sessions with a request in the engine now (the cold window shrinks as they grow).
    sessions_in_flight: int

    async def start(self) -> None:
        """Load the model; `ready` is True afterwards."""

    async def close(self) -> None: ...

    def heal_text(self, prompt: str) -> str:
        """Token healing (server/engines/healing.py): the end of `prompt` to take
        back and let the first generated token re-choose; "" where the engine
        does not heal or there is nothing to heal."""
        ...

    def generate(self, request: GenerationRequest, result: GenerationResult) -> AsyncIterator[GeneratedToken]:
        """Stream generated tokens; stop early when the iterator is closed. Raises `Superseded`
        when a newer request of the session took this one's place, `EngineError` for a failure
        with a status of its own (the gateway's upstream unreachable, busy, broken)."""
        ...
