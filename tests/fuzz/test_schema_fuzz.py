"""Fuzzing the HTTP API from its own OpenAPI schema (schemathesis).

Every operation gets valid and invalid requests (wrong types, out-of-range
numbers, missing fields, odd strings) with and without a key: the server must
never answer 5xx (a 503 only where it is the documented "busy"/"loading"
answer, which this set-up never triggers), and every error must be an error
object in the shape of the API the path belongs to: OpenAI's, Ollama's
(`/api/*`: `{"error": "message"}`) or llama.cpp's (`/infill`, `/props`:
`{"error": {"code", "message", "type"}}`). The app runs in-process (ASGI) on the scripted FakeEngine so
the fuzz is fast and bounded (a fixed number of examples, seconds); the same
HTTP layer is driven through a live server with the real model in
tests/integration/test_bad_input.py.
"""

from __future__ import annotations

import asyncio

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from codefill.server.app import create_app
from codefill.server.auth import KeyStore
from codefill.server.limits import LimitSettings
from codefill.server.tenants import TenantSettings
from tests.fakes import FakeEngine

KEY = "fuzz-key-123456"
ADMIN = "fuzz-admin-key-123456"
EXAMPLES = 120  # per operation and mode; the whole module takes well under a minute


def _app():
    engine = FakeEngine("def f():\n    return 1\n", n_ctx=512)
    asyncio.run(engine.start())
    return create_app(engine, served_names=["fake"], keys=KeyStore.load([f"fuzz={KEY}"]),
                      limits=LimitSettings(max_tokens_limit=256, request_timeout=5, rate_limit_tpm=10**9,
                                           events_rate_limit_rps=1000),
                      tenants=TenantSettings.build(admin_key=ADMIN))


APP = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES,
                                deterministic=True)


def _check(response, path: str) -> None:
    status = response.status_code
    assert status < 500, f"{status}: {response.text[:500]}"
    if status >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        if path.startswith("/api/"):  # Ollama's
            assert isinstance(body["error"], str) and body["error"], body
            return
        if path in ("/infill", "/props"):  # llama.cpp's
            assert set(body["error"]) == {"code", "message", "type"} and body["error"]["code"] == status, body
            return
        assert set(body["error"]) == {"message", "type", "param", "code"}, body
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=EXAMPLES, derandomize=True)
def test_no_5xx_and_errors_are_openai_objects_with_a_key(case):
    _check(case.call(headers={"Authorization": f"Bearer {KEY}"}), case.path)


@schema.include(path_regex="^/admin/").parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=EXAMPLES, derandomize=True)
def test_admin_routes_with_the_admin_key(case):
    _check(case.call(headers={"Authorization": f"Bearer {ADMIN}"}), case.path)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=30, derandomize=True)
def test_no_5xx_and_errors_are_openai_objects_without_a_key(case):
    response = case.call()
    _check(response, case.path)
    open_paths = ("/health", "/ready", "/metrics")
    if not case.path.startswith(open_paths) and case.method.upper() != "OPTIONS":  # preflights pass untouched
        assert response.status_code == 401
