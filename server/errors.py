"""A failure said the way a client should hear it: an HTTP status (OpenAI's for
the same failure), a message, the parameter at fault, an error code, headers
(Retry-After).

Any part of the server raises `APIError`: the service, the limits, an engine
(`engines/base.py` `EngineError` is one). The HTTP layer (api/errors.py)
writes it as OpenAI's `{"error": {"message", "type", "param", "code"}}`, or
in a dialect's shape; so is a stream's failure before its first body (its
headers wait for it, api/admission.py), and a later one ends the stream as an
error event (api/sse.py).
"""

from __future__ import annotations

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


def error_type(status: int) -> str:
    """OpenAI's error type for an HTTP status."""
    return _TYPES.get(status, "invalid_request_error")


def error_body(status: int, message: str, *, param: str | None = None, code: str | None = None) -> dict:
    """OpenAI's error object."""
    return {"error": {"message": message, "type": error_type(status), "param": param, "code": code}}


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
