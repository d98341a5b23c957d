"""The ASGI server: static browser code, self-hosted Pyodide, the wheelhouse and the socket."""

from interactive_gym.server.app import create_app
from interactive_gym.server.settings import Settings

__all__ = ["Settings", "create_app"]
