"""The ASGI server: static browser code, self-hosted Pyodide, the wheelhouse and the socket.

``create_app`` and ``Settings`` are imported on first use, so that the env worker processes
(``env_process.py``, which live in this package) start without importing the web app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interactive_gym.server.app import create_app
    from interactive_gym.server.settings import Settings

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from interactive_gym.server.app import create_app

        return create_app
    if name == "Settings":
        from interactive_gym.server.settings import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
