"""Logs: a request id on every line, JSON or text, and one access line a request.

The request id comes from the client's `X-Request-Id` (when it is a sane
token) or is made here; it is echoed back in the response's `X-Request-Id`
and set in a context variable that every log record of the request carries,
along with the API key's name. Prompts are never logged unless
`--log-prompts` says so (`log_prompt`).

A request id the client did not send (or not a sane token) is `req-<uuid>`.
The service hands it to the engine as `GenerationRequest.request_id` (the
gateway forwards it upstream). The completion id (`cmpl-...`) is a separate
thing, the one `/v1/events` names.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("codefill_request_id", default=None)
key_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("codefill_key", default=None)
access_log = logging.getLogger("codefill.access")
_prompt_log = logging.getLogger("codefill.prompts")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id", "key", "color_message"}


def new_request_id() -> str:
    return "req-" + uuid.uuid4().hex


def _install_record_factory() -> None:
    """Every log record (ours, uvicorn's, a library's) carries the request's id and key name."""
    make = logging.getLogRecordFactory()
    if getattr(make, "codefill", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = make(*args, **kwargs)
        record.request_id = request_id_var.get()
        record.key = key_var.get()
        return record

    factory.codefill = True
    logging.setLogRecordFactory(factory)


_install_record_factory()


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id, key, and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("request_id", "key"):
            if getattr(record, name, None):
                out[name] = getattr(record, name)
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_"):
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{line} [{rid}]" if rid else line


JsonFormatter.converter = time.gmtime


def setup_logging(level: str, fmt: str = "text") -> None:
    """Root logging for `codefill serve` (uvicorn's loggers propagate to it)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


def log_prompt(enabled: bool, body) -> None:
    """The request's prompt and suffix, only when the operator asked for it (they may hold secrets)."""
    if enabled:
        _prompt_log.info("prompt", extra={"prompt": body.prompt, "suffix": body.suffix, "model": body.model})


class RequestContext:
    """ASGI middleware, outermost: request id in and out, context for logs, one access line."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _VALID_ID.match(given) else new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.monotonic()
        status = 0

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["path"] not in ("/health", "/ready", "/metrics"):
                access_log.info("%s %s %s", scope["method"], scope["path"], status or "-",
                                extra={"method": scope["method"], "path": scope["path"], "status": status or None,
                                       "duration_ms": round((time.monotonic() - started) * 1000, 1)})
            request_id_var.reset(token)
