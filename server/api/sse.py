"""Server-sent events: the one place a stream is written as SSE.

Every stream the server sends, OpenAI's completion chunks and the dialects'
own bodies alike, is a series of JSON bodies; `event` makes one an event
(`{"data": text}`), `response` sends events with sse-starlette ("\n"
separators, a ping every 15 s, the shutdown grace of lifecycle.py). `events`
is the one place an OpenAI-style stream ends: whatever way its bodies stop (finished, an `APIError` such as the
ticket's deadline or a superseded request, a bug), the client gets an error
event if it failed and then `data: [DONE]`. (A failure before the first body
never gets here: api/admission.py answers it with its status and headers.)
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from sse_starlette import EventSourceResponse

from ..errors import APIError
from ..lifecycle import SSE_SHUTDOWN_GRACE_S

log = logging.getLogger("codefill.serving")

DONE = {"data": "[DONE]"}


def event(body: dict) -> dict:
    """One JSON body as an event."""
    return {"data": json.dumps(body, ensure_ascii=False)}


def failure(exc: BaseException) -> APIError:
    """What a stream that broke off with `exc` tells its client: an `APIError` as it is, a bug as a
    500 (logged here)."""
    if isinstance(exc, APIError):
        return exc
    log.error("error during a stream", exc_info=exc)
    return APIError(500, "The server had an error while generating this completion.", code="internal_error")


async def events(bodies: AsyncIterator[dict]) -> AsyncIterator[dict]:
    """`bodies` as events, then `[DONE]`; a failure on the way becomes an error event before it.
    Closing this closes `bodies`."""
    try:
        async for body in bodies:
            yield event(body)
    except Exception as exc:  # noqa: BLE001 (every failure ends the stream the same way)
        yield event(failure(exc).body())
    finally:
        await bodies.aclose()
    yield DONE


def response(events: AsyncIterator[dict]) -> EventSourceResponse:
    """`events` (`{"data": text}`) sent as server-sent events."""
    return EventSourceResponse(events, sep="\n", ping=15, shutdown_grace_period=SSE_SHUTDOWN_GRACE_S)
