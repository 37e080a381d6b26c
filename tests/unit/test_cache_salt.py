"""`cache_salt` (vLLM's field) separates cached prompt state within a tenant;
never across tenants (scripted engine)."""

from __future__ import annotations

from codefill.server.tenants import session_key
from tests.fakes import FakeEngine
from tests.helpers import MODEL, assert_openai_error, make_client, post, wait_ready


def _salt_of(**body) -> str | None:
    engine = FakeEngine("x = 1")
    with make_client(engine) as c:
        wait_ready(c)
        r = post(c, {"model": MODEL, "prompt": "a = ", "max_tokens": 4, **body})
        assert r.status_code == 200, r.text
    return engine.requests[-1].cache_salt


def test_without_a_salt_the_tenant_is_the_salt():
    assert _salt_of() == "anonymous"


def test_a_salt_is_scoped_by_the_tenant():
    assert _salt_of(cache_salt="gateway-team") == session_key("anonymous", "gateway-team")
    assert _salt_of(cache_salt="gateway-team") != _salt_of(cache_salt="other-team")


def test_an_empty_salt_is_a_400_naming_it():
    with make_client() as c:
        wait_ready(c)
        assert_openai_error(post(c, {"model": MODEL, "prompt": "a", "cache_salt": ""}), 400, param="cache_salt")
