"""X-Session-Id: the session when the body has no `user` (scripted engine).
Behind nginx with real servers: tests/integration/test_load_balancer.py."""

from __future__ import annotations

from codefill.server.service.sessionless import is_implicit
from codefill.server.tenants import session_key
from tests.fakes import FakeEngine
from tests.helpers import MODEL, assert_openai_error, make_client, post, wait_ready


def _session_of(headers: dict, **body) -> str | None:
    engine = FakeEngine("x = 1")
    with make_client(engine) as c:
        wait_ready(c)
        r = post(c, {"model": MODEL, "prompt": "a = ", "suffix": "\n", "max_tokens": 4, **body}, headers=headers)
        assert r.status_code == 200, r.text
    return engine.requests[-1].session


def test_the_header_is_the_session_when_the_body_has_no_user():
    assert _session_of({"X-Session-Id": "editor-7"}) == session_key("anonymous", "editor-7")


def test_user_in_the_body_wins_over_the_header():
    assert _session_of({"X-Session-Id": "editor-7"}, user="from-body") == session_key("anonymous", "from-body")


def test_no_header_and_no_user_is_an_implicit_session():
    """None of its own: the server picks one (service/sessionless.py; its requests do not supersede)."""
    session = _session_of({})
    assert session is not None and is_implicit(session.removeprefix(session_key("anonymous", "")))


def test_an_overlong_header_is_a_400_naming_it():
    with make_client() as c:
        wait_ready(c)
        r = post(c, {"model": MODEL, "prompt": "a", "max_tokens": 4}, headers={"X-Session-Id": "s" * 300})
        assert_openai_error(r, 400, param="X-Session-Id")
