"""The next-edit handler: request in, predicted edits (or "no edit") out.

Admitted like a completion (server/service/admission.py `Handler`): `asked`
checks the request and renders its prompt before admission, so bad input is
a 4xx that costs nothing and the caps weigh the prompt the model will see.
Then, as for a completion: a turn at the engine from the same fair queue,
the editor session keyed by the tenant (a next-edit session of its own,
`session_key(tenant, scoped(user, "next_edit"))`, so that a next edit never
supersedes the same editor's completion while a newer next edit supersedes
the older one), KV reuse within the tenant's cache salt, usage charged to
the ticket and counted, the engine stopped as soon as the answer is known or
the client leaves.

The model rewrites the editable region; its answer ends at the format's
stop strings or the model's end token. An empty answer, or one that says
`NO_EDITS`, is "no edit"; so is an answer cut short (max_tokens, or
more lines than a rewrite of the region can need) is "no edit": the rest of
the region is unknown, and diffing half a rewrite would delete the other
half. edits.py turns a whole rewrite into minimal edits.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from codefill.config import default

from ..engines.base import DeadlineMissed, Engine, GenerationRequest, GenerationResult, SamplingParams, Superseded
from ..errors import APIError
from ..languages import detect_language
from ..metrics import Metrics
from ..service.admission import Asked, Call, check_served, default_max_tokens
from ..service.fair import FairQueue
from ..service.usage import Usage, record_choice
from ..tenants import TenantSettings, scoped, session_key
from .edits import region_edits, to_index
from .formats import Excerpt, Format, Prompt, choose, excerpt
from .formats.base import cut_at
from .history import check_applies, newest_of, parse_history
from .protocol import NextEdit, NextEditRequest

log = logging.getLogger("codefill.nextedit")

# Room the prompt needs at the very least next to max_tokens.
_MIN_PROMPT_ROOM = 16
# A rewrite may hold this many lines more than twice the region before it counts as running away.
_SPARE_LINES = 8
_SPARE_TOKENS = 64
SESSION_SUFFIX = "next_edit"
# Answers that say there is nothing to change (Zed's teacher prompts' NO_EDITS, its hashline format's marker).
NO_EDITS = ("NO_EDITS", "<|no_edits|>")


@dataclass(frozen=True)
class NextEditSettings:
    """The next-edit service's part of the settings (codefill/config.py), with their defaults."""

    next_edit_format: str = default("next_edit_format")


@dataclass(frozen=True)
class Prepared:
    """A request made ready for the engine: its format, what it shows and the tokens."""

    format: Format
    excerpt: Excerpt
    prompt: Prompt
    tokens: list[int]
    max_tokens: int


class FairQueueSource(Protocol):
    """Anything with a `fair` queue: the completions service, whose queue next edits share."""

    @property
    def fair(self) -> FairQueue: ...


def next_edit_session(tenant: str | None, user: str | None) -> str | None:
    """The engine session of an editor's next edits: its own, beside the editor's completion session."""
    return None if user is None else session_key(tenant, scoped(user, SESSION_SUFFIX))


class NextEditService:
    def __init__(self, engine: Engine, *, served_names: list[str], metrics: Metrics, fair: FairQueueSource,
                 tenants: TenantSettings | None = None, settings: NextEditSettings | None = None) -> None:
        self.engine = engine
        self.served_names = served_names
        self.metrics = metrics
        self._fair = fair
        self.tenants = tenants or TenantSettings()
        self.settings = settings or NextEditSettings()
        choose(self.settings.next_edit_format)  # a bad setting fails at start-up, not on the first request

    @property
    def fair(self) -> FairQueue:
        return self._fair.fair

    def format_for(self, requested: str | None) -> Format:
        info = self.engine.info
        return choose(requested or self.settings.next_edit_format, *self.served_names, info.id, info.path)

    # -- checks and the prompt --------------------------------------------------

    def prepare(self, req: NextEditRequest) -> Prepared:
        """The request checked (503, 404, 400 naming the parameter) and its prompt rendered to fit."""
        check_served(self.engine, self.served_names, req.model)
        lines = req.text.split("\n")
        row = req.cursor.line - req.text_offset
        if not 0 <= row < len(lines):
            last = req.text_offset + len(lines) - 1
            raise APIError(400, f"cursor.line {req.cursor.line} is outside text, which holds lines "
                           f"{req.text_offset} to {last}.", param="cursor.line", code="cursor_out_of_range")
        col = to_index(lines[row].removesuffix("\r"), req.cursor.character)
        if col is None:
            raise APIError(400, f"cursor.character {req.cursor.character} is not a position in line "
                           f"{req.cursor.line} (UTF-16 code units, at most the line's length).",
                           param="cursor.character", code="cursor_out_of_range")
        edits = parse_history(req.history)
        last = newest_of(edits, req.path)
        if last is not None:
            check_applies(edits[last], last, lines, req.text_offset)
        fmt = self.format_for(req.format)
        n_ctx = self.engine.info.n_ctx
        if req.max_tokens is not None and req.max_tokens > n_ctx - _MIN_PROMPT_ROOM:
            raise APIError(400, f"max_tokens ({req.max_tokens}) is too large: the model's context is {n_ctx} "
                           f"tokens and at most {n_ctx - _MIN_PROMPT_ROOM} of them can be generated.",
                           param="max_tokens")
        related, shown, context = list(req.related), list(edits), None
        max_tokens = req.max_tokens or self._default_max_tokens(fmt, lines, (row, col), n_ctx)
        while True:  # the most the context holds: fewer related files, then older edits, then less context
            x = excerpt(fmt, path=req.path, lines=lines, cursor=(row, col), edits=shown, related=related,
                        text_offset=req.text_offset, last_edit=edits[last] if last is not None else None,
                        context=context)
            prompt = fmt.render(x)
            tokens = self._tokens(prompt)
            if len(tokens) + max_tokens <= n_ctx:
                return Prepared(fmt, x, prompt, tokens, max_tokens)
            if related:
                related = related[:len(related) // 2]
            elif shown:
                shown = shown[(len(shown) + 1) // 2:]
            elif context is None or context > 0:
                context = fmt.context // 2 if context is None else context // 2
            else:
                raise APIError(400, f"The editable region's prompt ({len(tokens)} tokens) and max_tokens "
                               f"({max_tokens}) do not fit the model's context of {n_ctx} tokens.",
                               param="max_tokens", code="context_length_exceeded")

    def _default_max_tokens(self, fmt: Format, lines: list[str], cursor: tuple[int, int], n_ctx: int) -> int:
        """Room for a rewrite of twice the region (a rewrite that long is running away), at most the
        completions' default."""
        x = excerpt(fmt, path="", lines=lines, cursor=cursor, edits=[], related=[], text_offset=0)
        return min(default_max_tokens(n_ctx), 2 * len(self.engine.tokenize(x.region_text)) + _SPARE_TOKENS)

    def _tokens(self, prompt: Prompt) -> list[int]:
        out: list[int] = []
        for i, seg in enumerate(prompt.segments):
            out += self.engine.tokenize(seg.text, special=seg.special, add_bos=(i == 0))
        return out

    # -- entry points (server/service/admission.py Handler) ---------------------

    def asked(self, req: NextEditRequest) -> Asked:
        """What admission weighs (and `--log-prompts` logs): the prompt the model will see. Checks the
        request first (4xx)."""
        prepared = self.prepare(req)
        req._prepared = prepared  # complete/stream run what was checked and weighed
        return Asked(prompt=prepared.prompt.text, max_tokens=prepared.max_tokens, model=req.model,
                     language=req.language or detect_language(None, req.path))

    async def complete(self, req: NextEditRequest, call: Call) -> NextEdit:
        prepared = req._prepared or self.prepare(req)
        self._admit(req, call)
        return await self._answer(req, prepared, call, stream=False)

    def stream(self, req: NextEditRequest, call: Call) -> AsyncIterator[dict]:
        """Checked now (errors become HTTP statuses); then one event with the answer."""
        prepared = req._prepared or self.prepare(req)
        self._admit(req, call)
        return self._stream(req, prepared, call)

    @staticmethod
    def _deadline(req: NextEditRequest, call: Call) -> float | None:
        """The client's hard deadline (time.monotonic()), counted from when the request came."""
        return None if req.deadline_ms is None else call.received + req.deadline_ms / 1000.0

    def _admit(self, req: NextEditRequest, call: Call) -> None:
        """503 `overloaded` at once when the wait for the engine would outlast the deadline (fair.py)."""
        try:
            self.fair.admit(call.tenant, next_edit_session(call.tenant, req.user), self._deadline(req, call))
        except APIError:
            self.metrics.deadline_missed.labels(call.tenant, "admission").inc()
            raise

    async def _stream(self, req: NextEditRequest, prepared: Prepared, call: Call) -> AsyncIterator[dict]:
        answer = await self._answer(req, prepared, call, stream=True)
        yield answer.model_dump()

    # -- running it ------------------------------------------------------------

    async def _answer(self, req: NextEditRequest, p: Prepared, call: Call, *, stream: bool) -> NextEdit:
        used = Usage(self.metrics, req.model, call.tenant, stream=stream, on_usage=call.on_usage)
        result = GenerationResult()
        finished = False
        try:
            output, whole = await self._generate(req, p, call, result, used)
            finished = True
        finally:  # superseded, cancelled or timed out too: charged for what the engine did
            usage = used.record([result], 1, finished)
        said_nothing = not output.strip() or output.strip() in NO_EDITS
        rewrite = None if said_nothing or not whole else p.format.parse(p.prompt.prefill + output)
        start, end = p.excerpt.region
        edits = [] if rewrite is None else region_edits(p.excerpt.lines[start:end], rewrite,
                                                        req.text_offset + start)
        self.metrics.next_edits.labels("edits" if edits else "no_edit").inc()
        return NextEdit(id=call.answer_id, model=req.model, edits=edits, no_edit=not edits, usage=usage,
                        format=p.format.name)

    async def _generate(self, req: NextEditRequest, p: Prepared, call: Call, result: GenerationResult,
                        used: Usage) -> tuple[str, bool]:
        """The model's answer up to the format's stop, and whether it is whole (not cut short)."""
        tenant = call.tenant
        start, end = p.excerpt.region
        most_lines = 2 * (end - start) + _SPARE_LINES
        gen = GenerationRequest(p.tokens, p.max_tokens, SamplingParams(temperature=0.0), request_id=call.request_id,
                                session=next_edit_session(tenant, req.user),
                                cache_salt=self.tenants.salt_of(tenant), tenant=tenant,
                                weight=self.tenants.weights.get(tenant, 1.0),
                                lookup_tokens=tuple(self.engine.tokenize(p.excerpt.region_text)),
                                deadline=self._deadline(req, call), deadline_hard=req.deadline_ms is not None)
        text, stopped, granted = "", False, False
        try:
            async with self.fair.turn(tenant, gen.session, gen.deadline):
                granted = True
                tokens = self.engine.generate(gen, result)
                try:
                    async for token in tokens:
                        text += token.text
                        used.text(token.text)
                        if any(s in text for s in p.format.stops):
                            text, stopped = cut_at(text, p.format.stops), True
                            break
                        if text.count("\n") > most_lines:
                            break
                finally:
                    await tokens.aclose()
        except Superseded as exc:
            self.metrics.superseded.inc()
            raise APIError(409, f"This request was {exc}: an editor only needs the answer to its latest "
                           "keystroke.", code="superseded") from None
        except DeadlineMissed as exc:
            self.metrics.deadline_missed.labels(tenant, "engine" if granted else "queue").inc()
            exc.headers = self.fair.retry_after(tenant, (req.deadline_ms or 0) / 1000)
            raise
        finally:
            record_choice(self.metrics, result)
        return text, stopped or result.finish_reason == "stop"

