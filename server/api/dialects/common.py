"""What every dialect adapter needs: the service's answer as plain pieces, and checks.

A dialect maps its request to a `CompletionRequest`, runs it through
`Admitted` (api/admission.py: the same limits, tenant and service as
`/v1/completions`), and writes the result in its own wire format. Streams
come from the service as OpenAI chunks; `pieces` reads them as text, finish
reason, usage or error, so no dialect repeats the service's work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from pydantic import ValidationError

from ...errors import APIError
from ..protocol import CompletionRequest
from ..sse import failure


@dataclass
class Piece:
    """One step of a streamed completion."""

    text: str = ""
    finish_reason: str | None = None
    usage: dict | None = None
    error: str | None = None  # the message; the stream ends after it
    status: int = 200  # with an error: its HTTP status


async def pieces(bodies: AsyncIterator[dict]) -> AsyncIterator[Piece]:
    """The service's stream (`Admitted.bodies`: OpenAI chunks; a failure raised) as Pieces, a failure
    as a last Piece with its message and status. Closing this closes `bodies`, which stops the engine."""
    try:
        async for body in bodies:
            if body.get("usage"):
                yield Piece(usage=body["usage"])
            for choice in body.get("choices") or ():
                yield Piece(text=choice.get("text") or "", finish_reason=choice.get("finish_reason"))
    except Exception as exc:  # noqa: BLE001 (every failure ends the answer the same way)
        err = failure(exc)
        yield Piece(error=err.message, status=err.status)
    finally:
        await bodies.aclose()


def validation_message(exc: ValidationError) -> tuple[str, str | None]:
    """(message, param) for the first problem pydantic found in a dialect's request."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()) if not isinstance(p, int)) or None
    msg = err.get("msg", "invalid value").removeprefix("Value error, ")
    if err.get("type") == "missing":
        return f"'{loc}' is a required parameter.", loc
    return (f"Invalid value for '{loc}': {msg}" if loc else msg), loc


def served_model(service, name: str | None) -> str:
    """The served model a dialect's model name means: a served name as is, or with an Ollama-style
    `:latest` tag; no name (or an empty one) means the first served model."""
    if not name:
        return service.served_names[0]
    if name in service.served_names:
        return name
    base = name.removesuffix(":latest")
    if base in service.served_names:
        return base
    raise APIError(404, f"model '{name}' not found; this server serves: {', '.join(service.served_names)}",
                   param="model", code="model_not_found")


def engine_ready(request) -> None:
    """503 while the model loads (or after it failed to)."""
    failure = request.app.state.load_error
    if failure is not None:
        raise APIError(503, f"The model failed to load: {failure}", code="model_load_failed")
    if not request.app.state.engine.ready:
        raise APIError(503, "The model is still loading; try again in a few seconds.", code="model_loading",
                       headers={"Retry-After": "5"})


def completion_request(**fields) -> CompletionRequest:
    """A `CompletionRequest` from a dialect's fields; what it does not accept is a 400 naming the field."""
    try:
        return CompletionRequest(**fields)
    except ValidationError as exc:
        message, param = validation_message(exc)
        raise APIError(400, message, param=param, code="invalid_value") from None
