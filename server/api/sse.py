"""OpenAI's wire format for a streamed completion: server-sent events of
completion chunks, an error event when the answer fails part-way, `[DONE]`.

Events are `{"data": text}` dicts, what sse-starlette sends (the router adds
the "\n" separators and pings). `Chunks` writes one completion's chunks (the
service calls it); `ending` is the one place a stream ends: whatever way the
chunks stop (finished, an `APIError` such as the ticket's deadline or a
superseded request, a bug), the client gets an error event if it failed and
then `data: [DONE]`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator

from .errors import APIError, error_body
from .protocol import CompletionUsage, Logprobs

log = logging.getLogger("codefill.serving")

DONE = {"data": "[DONE]"}


class Chunks:
    """The chunks of one streamed completion (`object: text_completion`, as OpenAI streams them)."""

    def __init__(self, completion_id: str, model: str, include_usage: bool) -> None:
        self.completion_id = completion_id
        self.model = model
        self.include_usage = include_usage
        self.created = int(time.time())

    def _event(self, choices: list[dict], usage: dict | None = None) -> dict:
        body = {"id": self.completion_id, "object": "text_completion", "created": self.created,
                "model": self.model, "choices": choices}
        if self.include_usage:
            body["usage"] = usage
        return {"data": json.dumps(body, ensure_ascii=False)}

    def choice(self, index: int, text: str, logprobs: Logprobs | None, finish_reason: str | None) -> dict:
        return self._event([{
            "index": index,
            "text": text,
            "logprobs": logprobs.model_dump() if logprobs else None,
            "finish_reason": finish_reason,
        }])

    def usage(self, usage: CompletionUsage) -> dict:
        """The last chunk with `stream_options.include_usage`: no choices, the request's usage."""
        return self._event([], usage.model_dump())


def error_event(exc: APIError) -> dict:
    return {"data": json.dumps(exc.body())}


async def ending(events: AsyncIterator[dict]) -> AsyncIterator[dict]:
    """`events`, then `[DONE]`; a failure on the way becomes an error event before it.
    Closing this closes `events`."""
    try:
        async for event in events:
            yield event
    except APIError as exc:
        yield error_event(exc)
    except Exception:
        log.exception("error during a stream")
        yield {"data": json.dumps(error_body(500, "The server had an error while generating this completion.",
                                             code="internal_error"))}
    finally:
        await events.aclose()
    yield DONE
