"""Server settings: one frozen dataclass, filled from the command line or by tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = PACKAGE_DIR.parent
STATIC_DIR = PACKAGE_DIR / "server" / "static"

#: Where binary Pyodide packages (numpy, …) come from when set to "cdn".
PYODIDE_CDN_TEMPLATE = "https://cdn.jsdelivr.net/pyodide/v{version}/full/"


def default_node_modules() -> Path:
    """The front-end packages installed from package-lock.json at the project root."""
    return PROJECT_DIR / "node_modules"


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know, with defaults for local development.

    Attributes:
        host, port: where uvicorn listens.
        node_modules: the folder holding the pinned front-end packages (Pyodide, …).
        wheelhouse: folder of pure-Python wheels served to the browser as a package index.
        pyodide_packages: where binary Pyodide packages come from. ``"none"`` (default, fully
            offline: only pure-Python wheels from the wheelhouse), ``"cdn"`` (the official
            Pyodide CDN for the pinned version), an ``http(s)://`` URL of a Pyodide
            distribution, or a local folder holding a full Pyodide distribution.
        cross_origin_isolation: send COOP/COEP headers so SharedArrayBuffer works (needed to
            interrupt a runaway Python step without losing the environment).
        db_url: the study database: ``sqlite:///path.db`` (WAL mode, the default file under
            ``./data/`` is created on demand) or ``postgresql+psycopg://user@host:port/db``.
        secret: the key that signs participant tokens; when None, a generated one is kept in
            ``secret_file`` so tokens stay valid across restarts.
    """

    host: str = "127.0.0.1"
    port: int = 5001
    node_modules: Path = field(default_factory=default_node_modules)
    wheelhouse: Path = field(default_factory=lambda: Path("data") / "wheelhouse")
    pyodide_packages: str = "none"
    cross_origin_isolation: bool = True
    db_url: str = "sqlite:///data/interactive_gym.db"
    secret: str | None = field(default=None, repr=False)
    secret_file: Path = field(default_factory=lambda: Path("data") / "secret.key")
    static_dir: Path = STATIC_DIR
