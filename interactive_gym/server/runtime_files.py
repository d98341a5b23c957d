"""The Python runtime package served to the browser, read-only, at ``/runtime/<file>``.

The Pyodide worker (``static/js/worker/runtime_package.js``, the other half) fetches each file
of :data:`interactive_gym.runtime.FILES` from here and writes it into Pyodide's file system as
the package ``interactive_gym.runtime``. Exactly those names are served, from the installed
package itself (no other file of it, and no path under it); ``no-cache`` so a page always
runs the server's current runtime.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

import interactive_gym.runtime as runtime_package

#: Where the worker fetches the files (``runtimeBaseURL`` in ``/runtime.json``).
PREFIX = "/runtime/"
RUNTIME_DIR = Path(runtime_package.__file__).resolve().parent
#: The files served, in the order the worker writes them.
FILES: tuple[str, ...] = tuple(runtime_package.FILES)
CONTENT_TYPE = "text/x-python; charset=utf-8"


async def runtime_file(request: Request) -> Response:
    """One file of the runtime package; 404 for any other name."""
    name = request.path_params["name"]
    if name not in FILES:
        return PlainTextResponse("Not Found", status_code=404)
    return Response(
        (RUNTIME_DIR / name).read_bytes(),
        media_type=CONTENT_TYPE,
        headers={"cache-control": "no-cache"},
    )


def runtime_file_routes() -> list[BaseRoute]:
    """The route the app mounts: ``GET /runtime/{name}``."""
    return [Route(PREFIX + "{name}", runtime_file, methods=["GET", "HEAD"])]
