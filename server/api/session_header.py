"""The editor session as a header: `X-Session-Id`.

Clients send their session both as OpenAI's `user` and as this header. The
header is what a load balancer in front of several codefill servers can hash
on (nginx `hash`, ingress-nginx `upstream-hash-by`) without reading the body,
so a session's keystrokes keep reaching the replica whose KV cache holds its
file. The server takes the header as the session when the body has no `user`;
when both are there, `user` wins (it is the OpenAI field clients have always
sent). Either way the session is scoped by the tenant inside the server
(`session_key` in tenants.py).
"""

from __future__ import annotations

from typing import Protocol

from starlette.datastructures import Headers

from ..errors import APIError
SESSION_HEADER = "X-Session-Id"
MAX_SESSION_CHARS = 256


class HasSession(Protocol):
    """A request body with OpenAI's `user` field: the editor session."""

    user: str | None


def apply_session_header(body: HasSession, headers: Headers) -> None:
    """Make the header the request's `user` when the body has none (any kind of request)."""
    session = headers.get(SESSION_HEADER)
    if body.user is not None or not session:
        return
    if len(session) > MAX_SESSION_CHARS:
        raise APIError(400, f"The {SESSION_HEADER} header is {len(session)} characters long; "
                            f"at most {MAX_SESSION_CHARS} are allowed.", param=SESSION_HEADER)
    body.user = session
