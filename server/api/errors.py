"""Every failure leaves the server as an OpenAI error object.

`{"error": {"message", "type", "param", "code"}}` with the status OpenAI uses
for the same failure (the error itself, `APIError`, is server/errors.py), or
in the shape of the dialect whose path was asked. FastAPI's own 422 shape
never reaches a client: request validation errors become a 400 that names
the parameter.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import APIError, error_body

log = logging.getLogger("codefill.api")

def error_response(status: int, message: str, *, param: str | None = None, code: str | None = None,
                   headers: dict[str, str] | None = None, path: str = "") -> JSONResponse:
    return JSONResponse(error_body_for(path, status, message, param=param, code=code), status_code=status,
                        headers=headers)


# The other APIs codefill speaks (api/dialects/) answer errors in their own shape:
# (path prefix, body maker) pairs, registered by each dialect's module.
ErrorShape = Callable[[int, str, str | None, str | None], dict]
_SHAPES: list[tuple[str, ErrorShape]] = []


def register_error_shape(prefix: str, shape: ErrorShape) -> None:
    """Errors of requests whose path starts with `prefix` get `shape(status, message, param, code)`."""
    _SHAPES.append((prefix, shape))


def error_body_for(path: str, status: int, message: str, *, param: str | None = None,
                   code: str | None = None) -> dict:
    """The error body in the shape of the API that `path` belongs to (OpenAI's unless a dialect's)."""
    for prefix, shape in _SHAPES:
        if path.startswith(prefix):
            return shape(status, message, param, code)
    return error_body(status, message, param=param, code=code)


def _describe_validation_error(exc: RequestValidationError) -> tuple[str, str | None, str]:
    """(message, param, code) for the first problem in the request."""
    errors = exc.errors()
    if not errors:
        return "invalid request", None, "invalid_request"
    err = errors[0]
    kind = err.get("type", "")
    loc = [str(p) for p in err.get("loc", ()) if p != "body"]
    if kind in ("json_invalid", "json_type") or (kind == "model_attributes_type" and not loc):
        detail = (err.get("ctx") or {}).get("error", "")
        return f"The request body is not valid JSON{': ' + str(detail) if detail else ''}.", None, "invalid_json"
    if kind == "missing" and not loc:
        return "The request body is empty; send a JSON object.", None, "invalid_json"
    ctx = err.get("ctx") or {}
    param = ctx.get("param") or (".".join(_clean_loc(loc)) or None)
    message = err.get("msg", "invalid value").removeprefix("Value error, ")
    if kind == "missing":
        return f"'{param}' is a required parameter.", param, "missing_required_parameter"
    same_field = [e for e in errors if _clean_loc([str(p) for p in e.get("loc", ()) if p != "body"])[:1] == loc[:1]]
    if param in _UNION_TYPES and len(same_field) > 1:
        # Every member of a union failed: say what the field may be, not why each member failed.
        message = f"Invalid type for '{param}': expected {_UNION_TYPES[param]}."
    elif param and not ctx.get("param"):
        message = f"Invalid value for '{param}': {message}"
    return message, param, ctx.get("code", "invalid_value")


_UNION_TYPES = {
    "prompt": "a string, a list of strings, a list of token ids, or a list of lists of token ids",
    "stop": "a string or a list of up to 4 strings",
}


def _clean_loc(loc: list[str]) -> list[str]:
    """`['prompt', 'list[int]', 0]` -> `['prompt']`: keep field names, drop union tags and indices
    past the first field so the param is what a client sent."""
    out: list[str] = []
    for part in loc:
        if part.isdigit():
            continue
        if "[" in part or part in ("str", "int", "float", "bool", "function-after", "function-before"):
            continue
        out.append(part)
    return out[:2]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        return error_response(exc.status, exc.message, param=exc.param, code=exc.code, headers=exc.headers,
                              path=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param, code = _describe_validation_error(exc)
        return error_response(400, message, param=param, code=code, path=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        code = None
        if exc.status_code == 400 and message == "There was an error parsing the body":
            message, code = "The request body could not be read as JSON text (is it UTF-8?).", "invalid_json"
        elif exc.status_code == 404 and message == "Not Found":
            message = "No such endpoint. This server serves /v1/completions, /v1/models, /health, /ready, /metrics, /docs and /playground."
        elif exc.status_code == 405:
            message = "Method not allowed for this endpoint."
        else:
            message = message or HTTPStatus(exc.status_code).phrase
        return error_response(exc.status_code, message, code=code, headers=getattr(exc, "headers", None),
                              path=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "The server had an error while processing your request.", code="internal_error",
                              path=request.url.path)
