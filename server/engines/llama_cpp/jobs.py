"""A request in the step loop: `Job` from the moment it is queued, `Running`
once it holds a sequence (its prompt, how much of it is evaluated, its
decoder, what the current step gives it).

`DONE` ends a job's stream of tokens (engine.py reads up to it).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

from ..base import GenerationRequest, GenerationResult
from . import deadlines
from .costs import AnswerLengths
from .decoding import Decoder
from .slots import Slot

DONE = object()


@dataclass
class Job:
    request: GenerationRequest
    result: GenerationResult
    loop: asyncio.AbstractEventLoop
    out: asyncio.Queue
    cancelled: threading.Event = field(default_factory=threading.Event)
    superseded: bool = False
    arrived: float = field(default_factory=time.monotonic)
    last_token: float = 0.0

    @property
    def deadline(self) -> float:
        """Its deadline, or the nominal one of a request without (deadlines.py)."""
        d = self.request.deadline
        return d if d is not None else self.arrived + deadlines.NOMINAL_S

    def emit(self, item) -> None:
        try:
            self.loop.call_soon_threadsafe(self.out.put_nowait, item)
        except RuntimeError:  # event loop closed: nobody is listening any more
            self.cancelled.set()


def tenant_of(r: "Running") -> str:
    """Whose request it is (open mode: one tenant, "")."""
    return r.job.request.tenant or ""


@dataclass
class Running:
    job: Job
    slot: Slot
    prompt: list[int]
    done: int  # prompt tokens in the slot's KV cells
    decoder: Decoder
    pending: int | None = None  # handed out, not yet evaluated
    batch: list[int] = field(default_factory=list)
    row: int = 0
    served: int = 0  # the last step that gave it a token
    served_at: float = 0.0  # when it was last advanced (or placed)
    kind: str = "full"  # which of its prompts (scheduler.py `_prompts`)

    def work(self, lengths: AnswerLengths) -> deadlines.Work:
        req = self.job.request
        return deadlines.Work(self, self.job.deadline, len(self.prompt) - self.done if self.pending is None else 0,
                              lengths.left(self.job.result.completion_tokens, req.max_tokens, tenant_of(self)),
                              req.deadline_hard and req.deadline is not None, self.served_at)
