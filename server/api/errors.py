"""Every failure leaves the server as an OpenAI error object.

`{"error": {"message", "type", "param", "code"}}` with the status OpenAI uses
for the same failure. FastAPI's own 422 shape never reaches a client: request
validation errors become a 400 that names the parameter.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .protocol import ErrorBody, ErrorResponse

log = logging.getLogger("codefill.api")

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "server_error",
    503: "service_unavailable",
    504: "server_error",
}


class APIError(Exception):
    """Raise anywhere below the router to answer with an OpenAI error."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers

    def body(self) -> dict:
        return error_body(self.status, self.message, param=self.param, code=self.code)


def error_body(status: int, message: str, *, param: str | None = None, code: str | None = None) -> dict:
    err = ErrorBody(message=message, type=_TYPES.get(status, "invalid_request_error"), param=param, code=code)
    return ErrorResponse(error=err).model_dump()


def error_response(status: int, message: str, *, param: str | None = None, code: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, param=param, code=code), status_code=status, headers=headers)


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
    return message, param, "invalid_value"


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
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, param, code = _describe_validation_error(exc)
        return error_response(400, message, param=param, code=code)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
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
        return error_response(exc.status_code, message, code=code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "The server had an error while processing your request.", code="internal_error")
