"""The ASGI application: Starlette for HTTP, python-socketio for the real-time channel."""

from __future__ import annotations

import socketio
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from interactive_gym.data import Store
from interactive_gym.server.ingest import register_ingest
from interactive_gym.server.isolation import CrossOriginIsolation
from interactive_gym.server.participants import register_participants
from interactive_gym.server.pyodide_assets import PyodideAssets
from interactive_gym.server.settings import Settings
from interactive_gym.server.static_files import REVALIDATE, StaticRoot, vendor_mounts
from interactive_gym.server.study_files import study_file_routes
from interactive_gym.server.tokens import TokenSigner, load_or_create_secret
from interactive_gym.server.wheelhouse import Wheelhouse
from interactive_gym.study import Experiment, load_study
from interactive_gym.study.loader import DEMO_STUDY


def create_app(settings: Settings | None = None, experiment: Experiment | None = None) -> ASGIApp:
    """Build the server's ASGI app serving ``experiment`` (default: the demo study).

    ``app.state`` of the Starlette part holds the pieces.
    """
    settings = settings or Settings()
    experiment = experiment or load_study(DEMO_STUDY)
    wheelhouse = Wheelhouse(settings.wheelhouse)
    pyodide = PyodideAssets(settings, wheelhouse)
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[])
    store = Store(settings.db_url)
    signer = TokenSigner(settings.secret or load_or_create_secret(settings.secret_file))
    ingest = register_ingest(sio, store, signer)
    participants = register_participants(experiment, sio, store, signer, ingest)

    async def health(request):  # noqa: ANN001
        return Response("ok", media_type="text/plain")

    routes: list[BaseRoute] = [
        *participants.routes(),
        Route("/healthz", health),
        *pyodide.routes(),
        *wheelhouse.routes(),
        *ingest.routes(),
        *study_file_routes(experiment),
        *vendor_mounts(settings.node_modules),
        Mount("/static", app=StaticRoot(settings.static_dir, REVALIDATE), name="static"),
    ]
    http = Starlette(routes=routes)
    http.state.settings = settings
    http.state.wheelhouse = wheelhouse
    http.state.sio = sio
    http.state.store = store
    http.state.signer = signer
    http.state.ingest = ingest
    http.state.experiment = experiment
    app: ASGIApp = socketio.ASGIApp(sio, other_asgi_app=http, socketio_path="socket.io")
    if settings.cross_origin_isolation:
        app = CrossOriginIsolation(app)
    return app
