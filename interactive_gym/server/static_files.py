"""Static file serving with the MIME types, caching and path checks the browser code relies on.

Pyodide's loader silently never settles when ``.wasm`` or ``.mjs`` are served with the wrong
``Content-Type``, so the types are set here explicitly instead of trusting the host's
``mimetypes`` database. Path traversal out of a root is refused by Starlette's ``StaticFiles``
(it resolves the real path and checks it stays under the directory).

A root can hide files (a 404, as if they did not exist): in production (``Settings.production``,
``--production``) the project's test, check and benchmark pages (:func:`development_only`) and
the HTML pages of the front-end packages (:func:`package_page`, such as Pyodide's console) are
not served; participants' pages never load them. The app (``app.py``) mounts the roots.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

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
VENDOR_PACKAGES = ("pyodide", "pixi.js", "socket.io-client", "onnxruntime-web", "chart.js")


#: Top folders of the static root holding only benchmark pages and their modules.
DEVELOPMENT_FOLDERS = frozenset({"bench"})
#: File names (lower case) of test and check pages and the modules and data only they load.
DEVELOPMENT_NAMES = ("test_*", "*_check.*")

#: Says whether a path under a root (``/``-separated, no leading ``/``) is hidden.
Hide = Callable[[str], bool]


def development_only(path: str) -> bool:
    """Whether a path under the static root is a test, check or benchmark file.

    Those are ``bench/…`` (the benchmark pages), ``…/test_*`` (the browser test pages such as
    ``js/test_pyodide_worker.html``, ``js/render/test_renderer.html`` and their modules and
    data) and ``…/*_check.*`` (``js/data/uploader_check.html``). Compared in lower case, so a
    case-insensitive file system cannot serve them under another spelling.
    """
    parts = PurePosixPath(path.lower()).parts
    if not parts:
        return False
    if parts[0] in DEVELOPMENT_FOLDERS:
        return True
    return any(fnmatch(parts[-1], pattern) for pattern in DEVELOPMENT_NAMES)


def package_page(path: str) -> bool:
    """Whether a path in a front-end package is an HTML page (demos, Pyodide's console)."""
    return path.lower().endswith((".html", ".htm"))


class StaticRoot(StaticFiles):
    """``StaticFiles`` with explicit content types, one ``Cache-Control`` policy and hidden files.

    ``hide`` gets each path asked for, and the path of the file it resolves to, relative to the
    root and ``/``-separated; a hidden file is answered 404.
    """

    def __init__(
        self, directory: Path, cache_control: str = REVALIDATE, *, hide: Hide | None = None
    ) -> None:
        super().__init__(directory=directory, check_dir=False)
        self.cache_control = cache_control
        self.hide = hide

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if self.hide is None:
            return super().lookup_path(path)
        if self.hide(path.replace(os.sep, "/")):
            return "", None
        full_path, stat_result = super().lookup_path(path)
        if full_path and self.directory is not None:
            try:
                real = Path(full_path).resolve().relative_to(Path(self.directory).resolve())
            except ValueError:
                return full_path, stat_result
            if self.hide(real.as_posix()):
                return "", None
        return full_path, stat_result

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


def vendor_mounts(
    node_modules: Path, names: tuple[str, ...] = VENDOR_PACKAGES, *, hide: Hide | None = None
) -> list[Mount]:
    """One immutable mount per installed package, at ``/vendor/<name>@<version>/``."""
    mounts = []
    for name in names:
        version = package_version(node_modules / name)
        if version is not None:
            root = StaticRoot(node_modules / name, IMMUTABLE, hide=hide)
            mounts.append(Mount(f"/vendor/{name}@{version}", app=root))
    return mounts


def vendor_url(node_modules: Path, name: str) -> str | None:
    """The URL prefix a package is served under, or None when it is missing."""
    version = package_version(node_modules / name)
    return None if version is None else f"/vendor/{name}@{version}/"
