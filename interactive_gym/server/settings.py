"""Server settings: one frozen dataclass, filled from the command line or by tests."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from interactive_gym.server.limits import LimitSettings
from interactive_gym.server.tokens import DEFAULT_TOKEN_MAX_AGE_S

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
        frame_ancestors: the origins allowed to show the pages in a frame (the
            ``frame-ancestors`` of the Content-Security-Policy, see
            :mod:`interactive_gym.server.security_headers`). Empty (default): no site may, and
            ``X-Frame-Options: DENY`` is sent too. MTurk's ExternalQuestion shows the study in
            an iframe on its worker site: use ``("https://worker.mturk.com",
            "https://workersandbox.mturk.com")`` (live and sandbox). Each entry is ``'self'``
            or an origin such as ``https://example.org`` or ``https://*.example.org``.
        db_url: the study database: ``sqlite:///path.db`` (WAL mode, the default file under
            ``./data/`` is created on demand) or ``postgresql+psycopg://user@host:port/db``.
        secret: the key that signs participant tokens and keys generated completion codes;
            when None, a generated one is kept in ``secret_file`` (mode 0600) so tokens and
            codes stay valid across restarts.
        token_max_age_s: how long a participant token is accepted after it was issued; a page
            in use renews its token at every scene, so this bounds only idle sessions.
        allowed_origins: the origins whose pages may open the socket and start the study. None
            (default): only the server's own origin, as the request names it (``Host``, and the
            scheme uvicorn sees); name the public origin here (``("https://study.example.org",)``)
            when a reverse proxy does not pass them on.
        limits: rate limits on starting the study and on uploads, and the storage quota per
            participant (see :mod:`interactive_gym.server.limits`).
        static_dir: the folder served under ``/static/`` (the browser code).
        production: serve only what participants need. False (default, for development): the
            test, check and benchmark pages are served too (``/static/bench/``,
            ``/static/js/test_pyodide_worker.html``, ``…/test_*``, ``…/*_check.*``); True: those
            and the front-end packages' own HTML pages answer 404 (see
            :mod:`interactive_gym.server.static_files`).
        env_workers: how many env worker processes run server-runtime games (each game is
            pinned to one); None (default): the number of CPU cores.
        netem: emulate a slow or lossy network on every participant's link, e.g.
            ``"latency=80ms,jitter=30ms,loss=10%"`` (see :mod:`interactive_gym.server.netem`);
            None (default): none. For trying a study and benchmarks, never for real
            participants.
        admin_session_s: how long a login to the researcher's console at ``/admin`` lasts
            (60 s to 30 days; default 8 hours). The console's password is set with ``python
            -m interactive_gym.admin set-password`` (see :mod:`interactive_gym.admin`).
    """

    host: str = "127.0.0.1"
    port: int = 5001
    node_modules: Path = field(default_factory=default_node_modules)
    wheelhouse: Path = field(default_factory=lambda: Path("data") / "wheelhouse")
    pyodide_packages: str = "none"
    cross_origin_isolation: bool = True
    frame_ancestors: tuple[str, ...] = ()
    db_url: str = "sqlite:///data/interactive_gym.db"
    secret: str | None = field(default=None, repr=False)
    secret_file: Path = field(default_factory=lambda: Path("data") / "secret.key")
    token_max_age_s: float = DEFAULT_TOKEN_MAX_AGE_S
    allowed_origins: tuple[str, ...] | None = None
    limits: LimitSettings = field(default_factory=LimitSettings)
    static_dir: Path = STATIC_DIR
    production: bool = False
    env_workers: int | None = None
    netem: str | None = None
    admin_session_s: float = 8 * 3600.0

    @property
    def env_worker_count(self) -> int:
        """``env_workers``, or the number of CPU cores when it is None."""
        return self.env_workers if self.env_workers is not None else max(1, os.cpu_count() or 1)
