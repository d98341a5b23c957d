"""At start: does the wheelhouse hold every package the study's browser games install?

Its other half is the browser: the Pyodide worker installs a browser-runtime ``GymScene``'s
``packages`` with micropip (itself loaded from the wheelhouse) from the index that
``wheelhouse.py`` serves, and a package missing there fails only then, in front of a
participant. :func:`check_wheelhouse` resolves those packages here instead, the way micropip
would: each named package and, recursively, the ``Requires-Dist`` of its wheel's ``METADATA``
that apply in Pyodide (markers evaluated for emscripten/wasm32; extras only when asked for), each
found either among the packages the configured Pyodide package source delivers (its lock file)
or as a wheel in the wheelhouse. What is missing stops the start with the command that adds it,
or, with ``fill``, is added (``Wheelhouse.add``) and checked again.
"""

from __future__ import annotations

import email.parser
import json
import zipfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from interactive_gym.server.settings import default_node_modules
from interactive_gym.server.wheelhouse import (
    MICROPIP,
    PYODIDE_PYTHON_VERSION,
    Wheel,
    Wheelhouse,
    WheelhouseError,
    normalize,
)

if TYPE_CHECKING:
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version
else:
    try:
        from packaging.requirements import InvalidRequirement, Requirement
        from packaging.specifiers import SpecifierSet
        from packaging.version import InvalidVersion, Version
    except ImportError:  # pragma: no cover - pip (which adds the wheels) carries a copy
        from pip._vendor.packaging.requirements import InvalidRequirement, Requirement
        from pip._vendor.packaging.specifiers import SpecifierSet
        from pip._vendor.packaging.version import InvalidVersion, Version

ADD_COMMAND = "python -m interactive_gym.wheelhouse add"
#: How often ``fill`` adds what is missing and resolves again (each round reaches deeper).
MAX_FILL_ROUNDS = 20


def pyodide_environment(python: str = PYODIDE_PYTHON_VERSION + ".0") -> dict[str, str]:
    """The environment markers of Requires-Dist evaluate to inside Pyodide."""
    return {
        "implementation_name": "cpython",
        "implementation_version": python,
        "os_name": "posix",
        "platform_machine": "wasm32",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Emscripten",
        "platform_version": "",
        "python_full_version": python,
        "python_version": ".".join(python.split(".")[:2]),
        "sys_platform": "emscripten",
    }


@dataclass(frozen=True)
class PyodidePackages:
    """What Pyodide itself offers: ``available`` through the configured package source, and
    everything its lock file lists (``shipped``, name → wheel file name)."""

    available: frozenset[str] = frozenset()
    shipped: dict[str, str] | None = None
    python: str = PYODIDE_PYTHON_VERSION + ".0"

    @classmethod
    def from_settings(cls, pyodide_packages: str, node_modules: Path) -> PyodidePackages:
        """Read the lock files for a ``Settings.pyodide_packages`` value (see ``settings.py``)."""
        shipped, python = _read_lock(node_modules / "pyodide" / "pyodide-lock.json")
        if pyodide_packages == "none":
            available: Iterable[str] = ()
        elif pyodide_packages == "cdn" or pyodide_packages.startswith(("http://", "https://")):
            available = shipped
        else:
            available, python = _read_lock(Path(pyodide_packages) / "pyodide-lock.json")
        return cls(frozenset(available), shipped, python or PYODIDE_PYTHON_VERSION + ".0")

    def binary(self, project: str) -> bool:
        """Whether Pyodide ships ``project`` as a package built for it (no pure wheel)."""
        file_name = (self.shipped or {}).get(project)
        return file_name is not None and not file_name.endswith("-none-any.whl")


def _read_lock(path: Path) -> tuple[dict[str, str], str | None]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}, None
    packages = data.get("packages") or {}
    names = {normalize(k): str(v.get("file_name", "")) for k, v in packages.items()}
    return names, (data.get("info") or {}).get("python")


@dataclass(frozen=True)
class Missing:
    """A package a scene needs that neither the wheelhouse nor Pyodide's source provides."""

    scene_id: str
    requirement: str  # "name" or "name<specifier>"
    needed_by: tuple[str, ...]  # the packages leading to it (empty: the scene names it)
    binary: bool = False  # a package built for Pyodide: the wheelhouse cannot hold it
    found: str | None = None  # versions in the wheelhouse that do not fit
    invalid: bool = False  # not a requirement micropip understands

    @property
    def fixable(self) -> bool:
        """Whether adding to the wheelhouse can provide it."""
        return not (self.binary or self.invalid)

    def describe(self) -> str:
        via = f" (needed by {' → '.join(self.needed_by)})" if self.needed_by else ""
        text = f"scene {self.scene_id!r}: package {self.requirement!r}{via} "
        if self.invalid:
            return text + "is not a valid requirement (a name, optionally with a version)"
        if self.binary:
            return text + (
                "is a package built for Pyodide, which the wheelhouse cannot hold: start with "
                "--pyodide-packages cdn (or the URL or folder of a full Pyodide distribution)"
            )
        if self.found:
            text += f"is in the wheelhouse only as {self.found}"
        else:
            text += "is not in the wheelhouse"
        return text + f"; add it with `{ADD_COMMAND} {_quoted(self.requirement)}`"


def _quoted(requirement: str) -> str:
    """The requirement as a shell word (``'foo>=2'`` is quoted, ``foo`` is not)."""
    return f"'{requirement}'" if any(c in requirement for c in "<>=!~;[], *") else requirement


class WheelhouseIncomplete(RuntimeError):
    """The study names packages the browser could not install; the message says which."""

    def __init__(self, missing: list[Missing], directory: Path, note: str = "") -> None:
        self.missing = missing
        lines = [f"the wheelhouse {directory} lacks packages the study's browser games install:"]
        lines += [f"  - {m.describe()}" for m in missing]
        if any(m.fixable for m in missing):
            lines.append("(or start with --fill-wheelhouse to add them now)")
        if note:
            lines.append(note)
        super().__init__("\n".join(lines))


def browser_packages(experiment: Any) -> dict[str, list[str]]:
    """``scene_id → packages`` of every browser-runtime ``GymScene`` naming packages."""
    from interactive_gym.study import GymScene

    found = {}
    for scene_id, scene in experiment.scenes_by_id.items():
        if not isinstance(scene, GymScene) or getattr(scene, "runtime", "browser") != "browser":
            continue
        packages = [p for p in scene.packages if not _is_url(p)]
        if packages:
            found[scene_id] = packages
    return found


def _is_url(requirement: str) -> bool:
    """micropip also installs a wheel by URL: nothing in the wheelhouse to check for it."""
    return "://" in requirement or requirement.startswith("emfs:") or requirement.endswith(".whl")


class _Resolver:
    """Resolves requirements inside one wheelhouse, remembering each wheel's dependencies."""

    def __init__(self, wheelhouse: Wheelhouse, pyodide: PyodidePackages) -> None:
        self.projects = wheelhouse.projects()
        self.pyodide = pyodide
        self.environment = pyodide_environment(pyodide.python)
        self._requires: dict[Path, list[Requirement]] = {}

    def missing(self, scene_id: str, roots: list[str]) -> list[Missing]:
        found: list[Missing] = []
        seen: set[tuple[str, str, frozenset[str]]] = set()
        todo: list[tuple[Requirement, tuple[str, ...]]] = []
        for root in map(Requirement, roots):
            if root.marker is None or root.marker.evaluate({**self.environment, "extra": ""}):
                todo.append((root, ()))
        while todo:
            requirement, chain = todo.pop(0)
            project = normalize(requirement.name)
            key = (project, str(requirement.specifier), frozenset(requirement.extras))
            if key in seen:
                continue
            seen.add(key)
            if project in self.pyodide.available:
                continue  # Pyodide's own package source delivers it (and its dependencies)
            wheel, others = self._pick(project, requirement.specifier)
            if wheel is None:
                found.append(
                    Missing(
                        scene_id,
                        f"{project}{requirement.specifier}",
                        chain,
                        binary=self.pyodide.binary(project),
                        found=", ".join(others) or None,
                    )
                )
                continue
            for dependency in self._dependencies(wheel, requirement.extras):
                todo.append((dependency, (*chain, project)))
        return found

    def _pick(self, project: str, specifier: SpecifierSet) -> tuple[Wheel | None, list[str]]:
        """The newest wheel of ``project`` the specifier allows, and the versions that don't."""
        fitting: list[tuple[Version, Wheel]] = []
        others = []
        for wheel in self.projects.get(project, []):
            try:
                version = Version(wheel.version)
            except InvalidVersion:
                others.append(wheel.version)
                continue
            if specifier.contains(version, prereleases=True):
                fitting.append((version, wheel))
            else:
                others.append(wheel.version)
        if not fitting:
            return None, others
        return max(fitting, key=lambda vw: vw[0])[1], others

    def _dependencies(self, wheel: Wheel, extras: Collection[str]) -> list[Requirement]:
        if wheel.path not in self._requires:
            self._requires[wheel.path] = _requires_dist(wheel.path)
        wanted = ["", *extras]
        return [
            r
            for r in self._requires[wheel.path]
            if r.marker is None
            or any(r.marker.evaluate({**self.environment, "extra": e}) for e in wanted)
        ]


def _requires_dist(path: Path) -> list[Requirement]:
    """The Requires-Dist of a wheel's METADATA (an unreadable one: none)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [
                n
                for n in archive.namelist()
                if len(PurePosixPath(n).parts) == 2
                and PurePosixPath(n).parts[0].endswith(".dist-info")
                and PurePosixPath(n).name == "METADATA"
            ]
            if not names:
                return []
            text = archive.read(names[0]).decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile):
        return []
    requirements = []
    for line in email.parser.Parser().parsestr(text, headersonly=True).get_all("Requires-Dist", []):
        try:
            requirements.append(Requirement(line))
        except InvalidRequirement:
            continue
    return requirements


def missing_packages(
    experiment: Any, wheelhouse: Wheelhouse, pyodide: PyodidePackages | None = None
) -> list[Missing]:
    """What the study's browser games would fail to install, scene by scene.

    The first scene installing packages needs micropip too (the worker loads it first). A
    package name that is not a valid requirement is reported as missing.
    """
    pyodide = pyodide or PyodidePackages.from_settings("none", default_node_modules())
    resolver = _Resolver(wheelhouse, pyodide)
    missing: list[Missing] = []
    installer = [MICROPIP]
    for scene_id, packages in browser_packages(experiment).items():
        roots = []
        for package in packages:
            try:
                Requirement(package)
            except InvalidRequirement:
                missing.append(Missing(scene_id, package, (), invalid=True))
                continue
            roots.append(package)
        missing += resolver.missing(scene_id, [*installer, *roots])
        installer = []
    return missing


def check_wheelhouse(
    experiment: Any,
    wheelhouse_dir: Path,
    fill: bool = False,
    *,
    pyodide: PyodidePackages | None = None,
) -> list[str]:
    """Stop unless the wheelhouse holds every package the browser-runtime scenes install.

    With ``fill``, what is missing is added (``Wheelhouse.add`` without pip's dependency
    resolution, which knows neither Pyodide's platform nor its own packages), and the study
    resolved again, until nothing is missing. Returns the requirements added.

    Raises:
        WheelhouseIncomplete: packages are missing (and could not be added), naming each scene,
            package and the command that adds it.
    """
    wheelhouse = Wheelhouse(wheelhouse_dir)
    pyodide = pyodide or PyodidePackages.from_settings("none", default_node_modules())
    added: list[str] = []
    missing = missing_packages(experiment, wheelhouse, pyodide)
    for _ in range(MAX_FILL_ROUNDS if fill else 0):
        requirements = _merged([m for m in missing if m.fixable])
        if not requirements or set(requirements) <= set(added):
            break  # nothing to add, or added already and still missing: pip cannot provide it
        try:
            wheelhouse.add(requirements, with_deps=False)
        except WheelhouseError as exc:
            raise WheelhouseIncomplete(missing, wheelhouse.directory, str(exc)) from None
        added += requirements
        missing = missing_packages(experiment, wheelhouse, pyodide)
    if missing:
        raise WheelhouseIncomplete(missing, wheelhouse.directory)
    return added


def _merged(missing: list[Missing]) -> list[str]:
    """One requirement per project (the specifiers of every mention together)."""
    merged: dict[str, SpecifierSet] = {}
    for m in missing:
        requirement = Requirement(m.requirement)
        project = normalize(requirement.name)
        merged[project] = merged.get(project, SpecifierSet()) & requirement.specifier
    return [f"{project}{specifier}" for project, specifier in sorted(merged.items())]
