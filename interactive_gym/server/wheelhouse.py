"""A local wheelhouse of pure-Python wheels, served to Pyodide as a package index.

Pyodide installs pure-Python packages with micropip, which reads a "simple" package index.
The server answers that index from a plain folder of ``.whl`` files, in both the HTML form
(PEP 503) and the JSON form (PEP 691, chosen by the ``Accept`` header), so participants'
browsers never reach the internet. The folder is filled ahead of time with ``pip download``
(:meth:`Wheelhouse.add`, or ``python -m interactive_gym.wheelhouse add NAME...``).
"""

from __future__ import annotations

import hashlib
import html
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

#: The Python that Pyodide 314 runs; wheels are fetched for it.
PYODIDE_PYTHON_VERSION = "3.14"
#: The package installer Pyodide 314.0.7 ships with; the worker loads it from the wheelhouse.
MICROPIP = "micropip==0.11.1"
PEP691_JSON = "application/vnd.pypi.simple.v1+json"
_WHEEL_NAME = re.compile(r"^(?P<dist>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")


def normalize(name: str) -> str:
    """PEP 503 name normalization: ``Foo.Bar_baz`` → ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Wheel:
    path: Path
    project: str
    version: str

    @property
    def filename(self) -> str:
        return self.path.name


class WheelhouseError(RuntimeError):
    """``pip download`` could not provide a requested package as a pure-Python wheel."""


class Wheelhouse:
    """A folder of wheels and the index routes that serve it under ``prefix``."""

    def __init__(self, directory: Path, prefix: str = "/wheels") -> None:
        self.directory = Path(directory)
        self.prefix = prefix.rstrip("/")
        self._hashes: dict[tuple[Path, float, int], str] = {}

    def wheels(self) -> list[Wheel]:
        """Every well-named wheel in the folder, sorted by file name."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*.whl")):
            match = _WHEEL_NAME.match(path.name)
            if match:
                found.append(Wheel(path, normalize(match["dist"]), match["version"]))
        return found

    def projects(self) -> dict[str, list[Wheel]]:
        grouped: dict[str, list[Wheel]] = {}
        for wheel in self.wheels():
            grouped.setdefault(wheel.project, []).append(wheel)
        return grouped

    def find(self, project: str) -> list[Wheel]:
        return self.projects().get(normalize(project), [])

    def sha256(self, path: Path) -> str:
        stat = path.stat()
        key = (path, stat.st_mtime, stat.st_size)
        if key not in self._hashes:
            self._hashes[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        return self._hashes[key]

    def digest(self) -> str:
        """A SHA-256 over every wheel's name and contents: it changes when any wheel does.

        The browser keys its Python memory snapshots with it, so a snapshot with packages
        installed from an older wheelhouse is never restored.
        """
        listing = "\n".join(f"{w.filename} {self.sha256(w.path)}" for w in self.wheels())
        return hashlib.sha256(listing.encode()).hexdigest()

    def add(self, requirements: list[str], *, with_deps: bool = True) -> None:
        """Download ``requirements`` (and their dependencies) as pure-Python wheels.

        Raises:
            WheelhouseError: a requirement has no pure-Python wheel for Python 3.14, or the
                download failed; the message carries pip's explanation.
        """
        if not requirements:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
            "--only-binary=:all:", "--python-version", PYODIDE_PYTHON_VERSION,
            "--implementation", "py", "--abi", "none", "--platform", "any",
            "--dest", str(self.directory), *([] if with_deps else ["--no-deps"]), *requirements,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            errors = [ln for ln in done.stderr.splitlines() if ln.startswith("ERROR")]
            raise WheelhouseError(
                f"could not add {requirements} to the wheelhouse {self.directory}: only "
                f"pure-Python wheels (py3-none-any) run in Pyodide without a binary package "
                f"source.\n" + "\n".join(errors or done.stderr.splitlines()[-5:])
            )

    # -- HTTP ---------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [
            Route(f"{self.prefix}/simple/", self.index_page),
            Route(f"{self.prefix}/simple/{{project}}/", self.project_page),
            Route(f"{self.prefix}/files/{{filename}}", self.file),
        ]

    def file_url(self, request: Request, wheel: Wheel) -> str:
        return str(request.base_url).rstrip("/") + f"{self.prefix}/files/{wheel.filename}"

    async def index_page(self, request: Request) -> Response:
        names = sorted(self.projects())
        if _wants_json(request):
            body = {"meta": {"api-version": "1.0"}, "projects": [{"name": n} for n in names]}
            return JSONResponse(body, media_type=PEP691_JSON)
        links = "".join(f'<a href="{html.escape(n)}/">{html.escape(n)}</a>\n' for n in names)
        return HTMLResponse(f"<!DOCTYPE html><html><body>\n{links}</body></html>")

    async def project_page(self, request: Request) -> Response:
        project = request.path_params["project"]
        if normalize(project) != project:
            return Response(status_code=301, headers={"location": f"../{normalize(project)}/"})
        wheels = self.find(project)
        if not wheels:
            return Response(
                f"{project} is not in the wheelhouse; add it with "
                f"`python -m interactive_gym.wheelhouse add {project}`",
                status_code=404,
                media_type="text/plain",
            )
        files = [
            {
                "filename": w.filename,
                "url": self.file_url(request, w),
                "hashes": {"sha256": self.sha256(w.path)},
            }
            for w in wheels
        ]
        if _wants_json(request):
            body = {
                "meta": {"api-version": "1.0"},
                "name": project,
                "versions": sorted({w.version for w in wheels}),
                "files": files,
            }
            return JSONResponse(body, media_type=PEP691_JSON)
        links = "".join(
            f'<a href="{html.escape(self.file_url(request, w))}#sha256={self.sha256(w.path)}">'
            f"{html.escape(w.filename)}</a>\n"
            for w in wheels
        )
        return HTMLResponse(f"<!DOCTYPE html><html><body>\n{links}</body></html>")

    async def file(self, request: Request) -> Response:
        filename = request.path_params["filename"]
        path = self.directory / filename
        if "/" in filename or "\\" in filename or not _WHEEL_NAME.match(filename):
            return Response("not a wheel file name", status_code=404)
        if not path.is_file():
            return Response(f"{filename} is not in the wheelhouse", status_code=404)
        return FileResponse(path, media_type="application/zip")


def _wants_json(request: Request) -> bool:
    return PEP691_JSON in request.headers.get("accept", "")
