"""Self-hosted Pyodide: the runtime configuration the worker loads, and its package lock file.

The Pyodide runtime itself (``pyodide.mjs``, ``.wasm``, the standard library) is the npm
package pinned in ``package-lock.json``, served under ``/vendor/pyodide@<version>/``.
Binary packages (numpy, …) are not part of that package; where they come from is the
``pyodide_packages`` setting, and the lock file served here lists only what that source can
deliver, so micropip looks for everything else in the local wheelhouse instead of the
internet.

The worker also gets where the Python runtime package is (``runtimeBaseURL`` and
``runtimeFiles``, served by ``runtime_files.py``), and a digest of the wheelhouse, which keys
its memory snapshots together with the lock file and the runtime package.
"""

from __future__ import annotations

import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from interactive_gym.server import runtime_files
from interactive_gym.server.settings import PYODIDE_CDN_TEMPLATE, Settings
from interactive_gym.server.static_files import IMMUTABLE, StaticRoot, package_version
from interactive_gym.server.wheelhouse import Wheelhouse

LOCAL_PACKAGES_PREFIX = "/pyodide-packages"


class PyodideAssets:
    """Routes for ``/runtime.json`` and the lock file, derived from the settings."""

    def __init__(self, settings: Settings, wheelhouse: Wheelhouse) -> None:
        self.settings = settings
        self.wheelhouse = wheelhouse
        self.package_dir = settings.node_modules / "pyodide"
        self.version = package_version(self.package_dir)
        self.source = settings.pyodide_packages

    @property
    def index_url(self) -> str | None:
        return None if self.version is None else f"/vendor/pyodide@{self.version}/"

    def package_base_url(self) -> str | None:
        """Where Pyodide's ``loadPackage`` fetches binary packages, or None when offline."""
        if self.source == "none":
            return None
        if self.source == "cdn":
            return PYODIDE_CDN_TEMPLATE.format(version=self.version)
        if self.source.startswith(("http://", "https://")):
            return self.source.rstrip("/") + "/"
        return LOCAL_PACKAGES_PREFIX + "/"

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            Route("/runtime.json", self.runtime_config),
            Route("/pyodide/pyodide-lock.json", self.lock_file),
        ]
        if self.package_base_url() == LOCAL_PACKAGES_PREFIX + "/":
            routes.append(Mount(LOCAL_PACKAGES_PREFIX, StaticRoot(Path(self.source), IMMUTABLE)))
        return routes

    def lock_file_data(self) -> dict:
        """The lock file for the configured package source (no packages when offline)."""
        if self.source not in ("none", "cdn") and not self.source.startswith("http"):
            local = Path(self.source) / "pyodide-lock.json"
            return json.loads(local.read_text())
        data = json.loads((self.package_dir / "pyodide-lock.json").read_text())
        if self.source == "none":
            data["packages"] = {}
        return data

    async def lock_file(self, request: Request) -> Response:
        if self.version is None:
            return _missing_pyodide()
        return JSONResponse(self.lock_file_data(), headers={"cache-control": "no-cache"})

    async def runtime_config(self, request: Request) -> Response:
        """What ``PyodideWorker.init()`` needs to load Pyodide from this server.

        The URLs on this server are root-relative (the worker resolves them against its own
        address), so nothing from the request, such as its ``Host`` header, is echoed back.
        """
        if self.version is None:
            return _missing_pyodide()
        micropip = self.wheelhouse.find("micropip")
        wheels = self.wheelhouse.prefix
        return JSONResponse(
            {
                "pyodideVersion": self.version,
                "indexURL": self.index_url,
                "lockFileURL": "/pyodide/pyodide-lock.json",
                "packageBaseUrl": self.package_base_url(),
                # micropip fills in {package_name}; without it, it would append "/name/".
                "wheelIndexURL": wheels + "/simple/{package_name}/",
                "micropipURL": f"{wheels}/files/{micropip[-1].filename}" if micropip else None,
                # Part of the key of the browser's memory snapshots (worker/python_snapshot.js).
                "wheelhouseDigest": self.wheelhouse.digest(),
                # The Python runtime package, file by file (served by runtime_files.py).
                "runtimeBaseURL": runtime_files.PREFIX,
                "runtimeFiles": list(runtime_files.FILES),
            },
            headers={"cache-control": "no-cache"},
        )


def _missing_pyodide() -> Response:
    return Response(
        "Pyodide is not installed: run `npm ci` at the project root (see README).",
        status_code=503,
        media_type="text/plain",
    )
