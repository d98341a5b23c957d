"""Static file serving with the MIME types, caching and path checks the browser code relies on.

Pyodide's loader silently never settles when ``.wasm`` or ``.mjs`` are served with the wrong
``Content-Type``, so the types are set here explicitly instead of trusting the host's
``mimetypes`` database. Path traversal out of a root is refused by Starlette's ``StaticFiles``
(it resolves the real path and checks it stays under the directory).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

#: Content types by file suffix; anything else falls back to Starlette's guess.
CONTENT_TYPES: dict[str, str] = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".map": "application/json",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".py": "text/x-python; charset=utf-8",
    ".zip": "application/zip",
    ".whl": "application/zip",
    ".tar": "application/x-tar",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".onnx": "application/octet-stream",
}

#: Files whose URL contains their version never change: cache them for a year.
IMMUTABLE = "public, max-age=31536000, immutable"
#: The project's own browser code changes with every edit: always revalidate (ETag).
REVALIDATE = "no-cache"

#: Front-end packages from package-lock.json that the server exposes under /vendor.
VENDOR_PACKAGES = ("pyodide", "pixi.js", "socket.io-client", "onnxruntime-web")


class StaticRoot(StaticFiles):
    """``StaticFiles`` with explicit content types and one ``Cache-Control`` policy."""

    def __init__(self, directory: Path, cache_control: str = REVALIDATE) -> None:
        super().__init__(directory=directory, check_dir=False)
        self.cache_control = cache_control

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        content_type = CONTENT_TYPES.get(Path(full_path).suffix.lower())
        if content_type:
            response.headers["content-type"] = content_type
        response.headers["cache-control"] = self.cache_control
        return response


def package_version(package_dir: Path) -> str | None:
    """The version in a front-end package's ``package.json``, or None if it is not installed."""
    try:
        return str(json.loads((package_dir / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def vendor_mounts(node_modules: Path, names: tuple[str, ...] = VENDOR_PACKAGES) -> list[Mount]:
    """One immutable mount per installed package, at ``/vendor/<name>@<version>/``."""
    mounts = []
    for name in names:
        version = package_version(node_modules / name)
        if version is not None:
            mounts.append(
                Mount(f"/vendor/{name}@{version}", app=StaticRoot(node_modules / name, IMMUTABLE))
            )
    return mounts


def vendor_url(node_modules: Path, name: str) -> str | None:
    """The URL prefix a package is served under, or None when it is missing."""
    version = package_version(node_modules / name)
    return None if version is None else f"/vendor/{name}@{version}/"
