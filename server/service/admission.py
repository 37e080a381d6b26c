"""What a kind of request gives admission, and what admission hands back.

Every request that runs on the engine is admitted the same way (the HTTP
part is `server/api/admission.py` `Admitted`): the Gate's caps (400) and
rates (429/503) weigh what the request `Asked` for, a `Ticket` bounds its
time and is charged its real usage, and the handler runs it with a `Call`:
the ids and the tenant it runs under. A handler is any object with the
`Handler` methods; `CompletionService` is the one for completions.

A new kind of request needs only a handler:

    class NextEditService:
        engine: Engine
        def asked(self, body: NextEditRequest) -> Asked:
            return Asked(prompt=body.text, max_tokens=body.max_tokens, model=body.model,
                         language=body.language)
        async def complete(self, body: NextEditRequest, call: Call) -> NextEdit: ...
        def stream(self, body: NextEditRequest, call: Call) -> AsyncIterator[dict]: ...

and its route (api/), with `@admitted_route` giving the ticket back:

    @router.post("/v1/next_edit")
    @admitted_route
    async def next_edit(body: NextEditRequest, request: Request):
        admitted = Admitted(request, body, request.app.state.next_edit, dialect="next_edit")
        return await admitted.stream() if body.stream else await admitted.complete()
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ..errors import APIError

Req = TypeVar("Req", contravariant=True)
Out = TypeVar("Out", covariant=True)

Prompt = str | list[str] | list[int] | list[list[int]]


def prompt_list(prompt: Prompt) -> list[str] | list[list[int]]:
    """OpenAI's four shapes of `prompt` as a list of prompts, each a text or a list of token ids."""
    if isinstance(prompt, str):
        return [prompt]
    if prompt and all(isinstance(x, int) for x in prompt):
        return [prompt]  # one prompt of token ids
    return list(prompt)


def check_served(engine: Any, served_names: list[str], model: str) -> None:
    """What every handler checks first: the engine has loaded (503) and serves `model` (404)."""
    if not engine.ready:
        raise APIError(503, "The model is still loading; try again in a few seconds.",
                       code="model_loading", headers={"Retry-After": "5"})
    if model not in served_names:
        raise APIError(404, f"The model '{model}' does not exist. This server serves: "
                       f"{', '.join(served_names)}.", param="model", code="model_not_found")


def default_max_tokens(n_ctx: int) -> int:
    """`max_tokens` when a request gives none: a quarter of the model's context."""
    return n_ctx // 4


@dataclass(frozen=True)
class Asked:
    """What admission reads of a request before it runs: the caps and the tokens-per-minute
    reservation weigh its prompts and `max_tokens`; the prompt log shows prompt, suffix and model;
    `language` goes with the answer's id to `/v1/events` (for events that name none)."""

    prompt: Prompt
    suffix: str | None = None
    max_tokens: int | None = None  # None: `default_max_tokens` of the model's context
    n: int = 1  # answers per prompt
    model: str | None = None
    language: str | None = None

    @property
    def prompts(self) -> list[str] | list[list[int]]:
        return prompt_list(self.prompt)


@dataclass(frozen=True)
class Call:
    """Who a handler runs a request for: `request_id` names the work in logs and the engine,
    `answer_id` is the answer's id (what `/v1/events` accepts), `tenant` the authenticated key's
    name (sessions and caches never cross it), `on_usage` charges the admission ticket, `received`
    is when the server took the request in (time.monotonic(): deadlines count from it)."""

    request_id: str
    answer_id: str
    tenant: str
    on_usage: Callable[[Any], None] | None = None
    received: float = field(default_factory=time.monotonic)


class Handler(Protocol[Req, Out]):
    """A kind of request the server admits and runs. `engine` is what the Gate tokenizes with;
    `asked` says what admission weighs. `stream` checks the request before it returns (bad input
    raises there, before the first byte) and yields JSON bodies (dicts), raising an `APIError`
    (server/errors.py) when the answer fails; the HTTP layer writes them as server-sent events and
    ends the stream. A body with a `user` field (the editor session) gets the `X-Session-Id`
    header there when it has none."""

    @property
    def engine(self) -> Any: ...

    def asked(self, body: Req) -> Asked: ...

    async def complete(self, body: Req, call: Call) -> Out: ...

    def stream(self, body: Req, call: Call) -> AsyncIterator[dict]: ...
