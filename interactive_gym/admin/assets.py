"""The console's own files at ``/admin/assets/<file>``, from ``interactive_gym/admin/static/``.

Only for a logged-in admin: :meth:`interactive_gym.admin.auth.AdminAuth.routes`, the other half,
puts :func:`asset_endpoint` behind ``AdminAuth.guard``. Only files inside the folder (no ``..``,
no hidden files, no link leading out of it), only the kinds the console uses, never cached.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

STATIC_DIR = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}
NO_STORE = {"cache-control": "no-store"}


def asset_path(root: Path, name: str) -> Path | None:
    """The file ``name`` names inside ``root``, or None (outside it, hidden, unknown kind)."""
    if not name or len(name) > 256 or "\\" in name or "\x00" in name:
        return None
    if any(not part or part[0] == "." for part in name.split("/")):  # also "", "..", "/x"
        return None
    base = root.resolve()
    found = (base / name).resolve()
    if found.suffix not in CONTENT_TYPES or not found.is_relative_to(base):
        return None
    if not found.is_file():
        return None
    return found


def asset_endpoint(root: Path = STATIC_DIR) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of ``GET /admin/assets/{path:path}`` serving files of ``root``."""

    async def asset(request: Request) -> Response:
        name = str(request.path_params.get("path", ""))
        found = asset_path(root, name)
        if found is None:
            return JSONResponse(
                {"ok": False, "error": "not_found", "message": f"no console file {name[:80]!r}"},
                404,
                headers=NO_STORE,
            )
        return FileResponse(found, media_type=CONTENT_TYPES[found.suffix], headers=NO_STORE)

    return asset
