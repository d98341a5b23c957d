"""The admin console as one piece: what :func:`interactive_gym.server.app.create_app` builds.

:class:`AdminConsole` puts the parts together: the login and session (``auth``), the live
figures fed by every stored chunk (``monitor``), the views over them and the database
(``views``), the ``/admin`` socket namespace that pushes them (``hub``), and the routes: the
JSON API, the data download and the actions. The server passes in what it already has (the
store, the socket server, the chunk writer, the connections, the waiting rooms and groups) and
the caches a reset participant must be dropped from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import socketio
from starlette.routing import BaseRoute

from interactive_gym.admin import actions, downloads
from interactive_gym.admin.api import AdminApi
from interactive_gym.admin.auth import AdminAuth
from interactive_gym.admin.hub import AdminHub
from interactive_gym.admin.monitor import LiveMonitor
from interactive_gym.admin.passwords import ENV_VAR, hash_from_env
from interactive_gym.admin.views import AdminViews
from interactive_gym.data.store import Store
from interactive_gym.data.writer import ChunkWriter
from interactive_gym.server.connections import Connections
from interactive_gym.server.groups import Groups
from interactive_gym.server.ingest import Ingest
from interactive_gym.server.limits import LogThrottle
from interactive_gym.server.waiting_rooms import WaitingRooms
from interactive_gym.study import Experiment

log = logging.getLogger("interactive_gym.admin")


class AdminConsole:
    """Everything behind ``/admin``.

    Raises :class:`~interactive_gym.admin.passwords.PasswordError` when
    ``IG_ADMIN_PASSWORD_HASH`` holds something that is not an argon2 hash.
    """

    def __init__(
        self,
        *,
        store: Store,
        experiment: Experiment,
        secret: str,
        sio: socketio.AsyncServer,
        writer: ChunkWriter,
        ingest: Ingest,
        connections: Connections,
        session_s: float,
        throttle: LogThrottle | None = None,
        rooms: WaitingRooms | None = None,
        groups: Groups | None = None,
        on_reset: Sequence[Callable[[str], object]] = (),
    ) -> None:
        self.auth = AdminAuth(
            store, secret, session_s=session_s, env_hash=hash_from_env(), throttle=throttle
        )
        self.monitor = LiveMonitor()
        self.monitor.attach(writer, ingest, connections)
        self.views = AdminViews(store, experiment, self.monitor, rooms=rooms, groups=groups)
        self.hub = AdminHub(sio, self.auth, self.views)
        self.hub.register()
        self._routes: list[BaseRoute] = [
            *self.auth.routes(),
            *AdminApi(self.auth, self.views).routes(),
            *downloads.routes(self.auth, store, experiment),
            *actions.routes(
                self.auth,
                store,
                experiment,
                sio=sio,
                connections=connections,
                rooms=rooms,
                on_reset=[*on_reset, self.monitor.forget],
            ),
        ]

    def routes(self) -> list[BaseRoute]:
        """Every ``/admin`` route: the login, the console, its assets, API, download, actions."""
        return list(self._routes)

    def log_status(self, base_url: str, db_url: str) -> None:
        """Say in the server's start log where the console is, or how to turn it on."""
        url = f"{base_url.rstrip('/')}/admin"
        if self.auth.enabled():
            log.info("researcher console: %s (password set)", url)
            return
        log.warning(
            "researcher console: %s is off until a password is set: python -m "
            "interactive_gym.admin set-password --db %s (or set %s to a hash from python -m "
            "interactive_gym.admin hash-password)",
            url,
            db_url,
            ENV_VAR,
        )

    async def close(self) -> None:
        """Stop pushing to the admin sockets (before the writer closes)."""
        await self.hub.close()
