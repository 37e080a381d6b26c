"""Running the app under uvicorn, and stopping it gracefully.

On SIGTERM/SIGINT uvicorn stops listening and waits for open connections;
before that, the gate stops admitting (503 `server_shutting_down`) and gives
each request in progress `DRAIN_GRACE_S` to finish. One that is still going
then ends cleanly: a stream gets an error event and `data: [DONE]`, a plain
request a 503. Only after that does uvicorn's own timeout cancel what is left,
and the lifespan closes the engine.

The three graces are staggered so that the clean ending wins: the drain's
`DRAIN_GRACE_S` (3 s), sse-starlette's own shutdown grace one second longer
(`SSE_SHUTDOWN_GRACE_S`), uvicorn's (`UVICORN_GRACE_S`, 6 s) last.
"""

from __future__ import annotations

import asyncio
import logging

import uvicorn

log = logging.getLogger("codefill.server")

DRAIN_GRACE_S = 3.0
# sse-starlette lets a stream run this long after the signal before it cancels it: longer than our grace.
SSE_SHUTDOWN_GRACE_S = DRAIN_GRACE_S + 1.0
UVICORN_GRACE_S = int(DRAIN_GRACE_S + 3)


class _DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app) -> None:
        super().__init__(config)
        self._app = app
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets=None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig, frame) -> None:
        gate = getattr(self._app.state, "gate", None)
        if gate is not None and self._loop is not None and not gate.draining:
            log.info("stopping: no new requests; %d in progress get %.0f s to finish", gate.pending, DRAIN_GRACE_S)
            self._loop.call_soon_threadsafe(gate.drain, DRAIN_GRACE_S)
        super().handle_exit(sig, frame)


def run(app, *, host: str, port: int, log_level: str) -> None:
    # log_config=None: codefill's own logging setup (server/logs.py) formats uvicorn's lines too.
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, log_config=None, access_log=False,
                            timeout_graceful_shutdown=UVICORN_GRACE_S)
    _DrainingServer(config, app).run()
