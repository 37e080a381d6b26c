"""Typing-through: each session's last answer, so that when the user types
what it began with, the rest is answered at once without the engine; and
when the same place is asked again unchanged (the editor re-triggers after a
cursor move back, a focus change, a dismissed suggestion), the same answer.

Sessions are tenant-scoped keys (tenants.py `session_key`): one tenant's
answers are never handed to another, whatever `user` they send.

Only an editor's plain single completion is remembered (`rememberable`: a
session, a suffix, one prompt, `n` 1, no echo or logprobs). When the next
request's prefix is the remembered prefix plus characters that begin the
remembered answer, with the same suffix and no line end typed, the rest of
the answer comes back at once (`codefill_completions_typed_through_total`).
A request identical to the remembered one (prefix, suffix and every option
that shapes the answer) that decodes greedily gets the remembered answer:
the engine would compute exactly it again (`codefill_completions_repeated_total`).
It comes back as it came the first time, in the same pieces when streamed and
with the same token counts, its whole prompt counted as cached: a client (or a
dialect's `tokens_predicted`, `eval_count`) cannot tell it from a computed one.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from ..tenants import forget_sessions, session_key
from ..api.protocol import CompletionRequest

_MAX_REMEMBERED_SESSIONS = 1024


@dataclass
class _LastAnswer:
    prefix: str
    suffix: str | None
    text: str
    shape: tuple = ()  # the options that shape an answer (`shape_of`); () where unknown
    pieces: tuple[str, ...] = ()  # the answer as it was streamed
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


@dataclass
class Recalled:
    """An answer from memory: "repeated" (as it came, `pieces` and token counts) or "typed_through"."""

    how: str
    text: str
    pieces: tuple[str, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"


def shape_of(req: CompletionRequest) -> tuple:
    """What besides prefix and suffix decides the answer: a repeat must match it all, and decode greedily."""
    extra = tuple((f.filename, f.text) for f in req.input_extra or ())
    stop = (req.stop,) if isinstance(req.stop, str) else tuple(req.stop or ())
    return (req.model, req.mode, req.max_tokens, stop, req.language, req.filepath, extra, req.cache_salt,
            req.frequency_penalty, req.presence_penalty)


def greedy(req: CompletionRequest) -> bool:
    return not req.temperature  # None: the server's default, 0 unless --default-temperature says otherwise


def rememberable(req: CompletionRequest, prompts: list) -> bool:
    """An editor's plain single completion of a known session."""
    return (req.user is not None and req.suffix is not None and req.mode != "raw" and len(prompts) == 1
            and prompts[0].token_ids is None and req.n == 1 and not req.echo and req.logprobs is None
            and req.max_tokens != 0)


class AnswerMemory:
    def __init__(self, max_sessions: int = _MAX_REMEMBERED_SESSIONS) -> None:
        self.max_sessions = max_sessions
        self._answers: OrderedDict[str, _LastAnswer] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def remember(self, session: str, prefix: str, suffix: str | None, text: str, shape: tuple = (),
                 pieces: tuple[str, ...] = (), prompt_tokens: int = 0, completion_tokens: int = 0,
                 finish_reason: str = "stop") -> None:
        """Keep the session's last answer, most recently used first."""
        self._answers[session] = _LastAnswer(prefix, suffix, text, shape, pieces or (text,), prompt_tokens,
                                             completion_tokens, finish_reason)
        self._answers.move_to_end(session)
        while len(self._answers) > self.max_sessions:
            self._answers.popitem(last=False)

    def typed_through(self, session: str, prefix: str, suffix: str | None) -> str | None:
        """The rest of the session's last answer when the user has typed its
        beginning since: no model needed for what the screen already shows."""
        last = self._answers.get(session)
        if last is None or last.suffix != suffix or not prefix.startswith(last.prefix):
            return None
        typed = prefix[len(last.prefix):]
        if not typed or "\n" in typed or not last.text.startswith(typed):
            return None
        rest = last.text[len(typed):]
        if not rest.strip():
            return None
        self.remember(session, prefix, suffix, rest)
        return rest

    def repeated(self, session: str, prefix: str, suffix: str | None, shape: tuple) -> Recalled | None:
        """The session's last answer when it is asked again exactly as it was (greedy requests only:
        the caller checks)."""
        last = self._answers.get(session)
        if last is None or not shape or last.shape != shape or last.prefix != prefix or last.suffix != suffix:
            return None
        self._answers.move_to_end(session)
        return Recalled("repeated", last.text, last.pieces, last.prompt_tokens, last.completion_tokens,
                        last.finish_reason)

    def recall(self, req: CompletionRequest, prompts: list, tenant: str | None,
               default_temperature: float = 0.0) -> Recalled | None:
        """The answer when `req` can be answered from the session's last answer."""
        if not rememberable(req, prompts):
            return None
        session = session_key(tenant, req.user)
        if greedy(req) and not (req.temperature is None and default_temperature):
            again = self.repeated(session, prompts[0].text, req.suffix, shape_of(req))
            if again is not None:
                return again
        rest = self.typed_through(session, prompts[0].text, req.suffix)
        return Recalled("typed_through", rest, (rest,)) if rest is not None else None

    def keep(self, req: CompletionRequest, prompts: list, tenant: str | None, pieces: list[str],
             prompt_tokens: int = 0, completion_tokens: int = 0, finish_reason: str = "stop") -> None:
        """Remember the answer to `req` (as streamed, in `pieces`), where a later keystroke may type
        through it or ask it again."""
        if rememberable(req, prompts):
            self.remember(session_key(tenant, req.user), prompts[0].text, req.suffix, "".join(pieces), shape_of(req),
                          tuple(pieces), prompt_tokens, completion_tokens, finish_reason)

    def forget(self, *, session: str | None = None, session_prefix: str | None = None) -> int:
        """Drop one session's answer, or every session's whose key starts with `session_prefix` (a tenant's)."""
        return forget_sessions(self._answers, session=session, session_prefix=session_prefix)
