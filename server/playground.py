"""The playground: a Monaco page with codefill's inline completions, at /playground.

The page is built by `make playground` (npm: extensions/monaco -> dist/) and
served from the same origin as the API, so it needs no CORS. Without a build,
/playground answers a 404 OpenAI error that says how to make one, instead of
the generic "no such endpoint".
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from .api.errors import error_response

PREFIX = "/playground"
# An installed wheel carries the page beside this module (setup.py copies it in); a checkout
# serves the build output itself. CODEFILL_PLAYGROUND_DIR points elsewhere.
_PACKAGED_DIST = Path(__file__).resolve().parent / "playground_dist"
DEFAULT_DIST = (_PACKAGED_DIST if _PACKAGED_DIST.is_dir()
                else Path(__file__).resolve().parent.parent / "extensions" / "monaco" / "dist")
BUILD_HINT = "The playground is not built. Run `make playground` (or `cd extensions && npm ci && npm run build -w monaco`), then restart the server."


def playground_dir() -> Path:
    return Path(os.environ.get("CODEFILL_PLAYGROUND_DIR") or DEFAULT_DIST)


def mount_playground(app: FastAPI, directory: Path | None = None) -> None:
    """Serve the built page at /playground/ (and redirect /playground to it)."""
    if any(getattr(r, "path", None) == PREFIX for r in app.router.routes):
        return  # mounted already
    dist = directory or playground_dir()

    # The page loads its bundle and workers by relative URL, so it must be
    # seen at /playground/, with the slash.
    @app.get(PREFIX, include_in_schema=False)
    async def playground_root():
        if not (dist / "index.html").is_file():
            return error_response(404, BUILD_HINT, code="playground_not_built")
        return RedirectResponse(PREFIX + "/", status_code=307)

    if (dist / "index.html").is_file():
        app.mount(PREFIX + "/", StaticFiles(directory=dist, html=True), name="playground")
    else:
        @app.get(PREFIX + "/{path:path}", include_in_schema=False)
        async def playground_missing(path: str):
            return error_response(404, BUILD_HINT, code="playground_not_built")
