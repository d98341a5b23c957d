"""The ASGI application: Starlette for HTTP, python-socketio for the real-time channel.

A study with server-runtime game scenes also gets the env worker processes
(:mod:`interactive_gym.server.env_pool`), started with the app, and their socket events
(:mod:`interactive_gym.server.server_games`); a study with waiting rooms gets their matching
loop (:mod:`interactive_gym.server.waiting_rooms`); a study with group games in the browser gets
their ``net:*`` events (:mod:`interactive_gym.server.net_games`). ``Settings.netem`` emulates a
slow network on every participant's link (:mod:`interactive_gym.server.netem`). At shutdown
running games end first, then the chunk writer finishes what it holds and the store closes its
connections (so SQLite checkpoints its write-ahead log and leaves no ``-wal``/``-shm`` files
behind).

The researcher's console at ``/admin`` (:mod:`interactive_gym.admin`) gets the same store,
socket server and chunk writer: its live figures follow every stored chunk.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from interactive_gym.admin.console import AdminConsole
from interactive_gym.data import Store
from interactive_gym.server.connections import Connections
from interactive_gym.server.env_check import server_scenes
from interactive_gym.server.env_pool import EnvPool
from interactive_gym.server.fanout import send_to
from interactive_gym.server.flow import Flow
from interactive_gym.server.game_records import ServerSeqs
from interactive_gym.server.gate import RecordGate
from interactive_gym.server.group_flow import GroupRoutes
from interactive_gym.server.groups import Groups
from interactive_gym.server.ingest import register_ingest
from interactive_gym.server.isolation import CrossOriginIsolation
from interactive_gym.server.limits import KeyedLimiter, LogThrottle
from interactive_gym.server.net_games import NetGames, is_net_scene
from interactive_gym.server.netem import Netem
from interactive_gym.server.participants import Participants
from interactive_gym.server.paths import Paths
from interactive_gym.server.pyodide_assets import PyodideAssets
from interactive_gym.server.runtime_files import runtime_file_routes
from interactive_gym.server.server_events import ServerEvents
from interactive_gym.server.server_games import ServerGames
from interactive_gym.server.settings import Settings
from interactive_gym.server.static_files import (
    REVALIDATE,
    StaticRoot,
    development_only,
    package_page,
    vendor_mounts,
)
from interactive_gym.server.study_files import study_file_routes
from interactive_gym.server.tokens import TokenSigner, derive_key, load_or_create_secret
from interactive_gym.server.uploads import UploadLimits
from interactive_gym.server.verification import Verifier
from interactive_gym.server.waiting_rooms import WaitingRooms
from interactive_gym.server.wheelhouse import Wheelhouse
from interactive_gym.server.wire_json import WirePacket
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
    origins = list(settings.allowed_origins) if settings.allowed_origins is not None else None
    sio = socketio.AsyncServer(
        async_mode="asgi", cors_allowed_origins=origins, serializer=WirePacket
    )
    store = Store(settings.db_url)
    secret = settings.secret or load_or_create_secret(settings.secret_file)
    signer = TokenSigner(secret, experiment.experiment_id, max_age_s=settings.token_max_age_s)
    throttle = LogThrottle()
    gate = RecordGate(experiment, store)
    uploads = UploadLimits(store, settings.limits.uploads)
    connections = Connections()
    ingest = register_ingest(
        sio,
        store,
        signer,
        gate=gate,
        uploads=uploads,
        throttle=throttle,
        connections=connections,
    )
    paths = Paths(experiment, store)
    verifier = Verifier(experiment, store)
    # Human–human studies: the groups, their waiting rooms, and the flow's group rules.
    groups = Groups(experiment, store)
    seqs = ServerSeqs(store)  # one numbering of the server's own chunks per owner
    events = ServerEvents(ingest.writer, seqs, store.limits)
    rooms = None
    if experiment.rooms:
        rooms = WaitingRooms(sio, connections, experiment, groups, events, throttle=throttle)
        rooms.register()
    flow = Flow(
        experiment,
        store,
        connections,
        sio,
        signer,
        paths=paths,
        gate=gate,
        code_key=derive_key(secret, "completion-codes"),
        on_completed=verifier.schedule,
        throttle=throttle,
        routes=GroupRoutes(experiment, groups) if experiment.rooms else None,
    )
    flow.register()
    netem = Netem(settings.netem) if settings.netem else None
    # Games whose env runs on the server: a pool of env worker processes, started with the app.
    pool = EnvPool(settings.env_worker_count) if server_scenes(experiment) else None
    games = None
    if pool is not None:
        games = ServerGames(
            sio,
            connections,
            store,
            ingest.writer,
            experiment,
            pool,
            throttle=throttle,
            groups=groups,
            seqs=seqs,
            events=events,
        )
        games.register()
        if netem is not None:  # the same delays as the net:* messages, in order, never lost
            games.fanout = netem.ordered_sender(connections.participant_of, send_to)
            sio.on(
                "game:input", netem.ordered_handler(games.handle_input, connections.participant_of)
            )
    # Group games in the browser: the server relays and logs the inputs, writes the rows.
    net_games = None
    if any(is_net_scene(s) for s in experiment.scenes_by_id.values()):
        net_games = NetGames(
            sio,
            connections,
            store,
            ingest.writer,
            experiment,
            groups=groups,
            seqs=seqs,
            events=events,
            throttle=throttle,
            netem=netem,
            verify=verifier.schedule_group,
        )
        net_games.register()
    participants = Participants(
        experiment,
        store,
        signer,
        paths,
        code_key=flow.code_key,
        limiter=KeyedLimiter(settings.limits.entry.burst, settings.limits.entry.per_s),
        throttle=throttle,
        on_device_moved=flow.device_moved,
        allowed_origins=settings.allowed_origins or (),
    )

    # The researcher's console: off until an admin password is set.
    admin = AdminConsole(
        store=store,
        experiment=experiment,
        secret=secret,
        sio=sio,
        writer=ingest.writer,
        ingest=ingest,
        connections=connections,
        session_s=settings.admin_session_s,
        throttle=throttle,
        rooms=rooms,
        groups=groups,
        on_reset=[gate.forget, uploads.forget, seqs.forget, groups.forget],
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        admin.log_status(f"http://{settings.host}:{settings.port}/", settings.db_url)
        if pool is not None:
            await pool.start()
        if rooms is not None:
            rooms.start()
        yield
        if rooms is not None:
            await rooms.close()  # its event records are written before the writer closes
        if games is not None:
            await games.close()  # running episodes end as "stopped"; their records are flushed
        if net_games is not None:
            await net_games.close()
        if netem is not None:
            await netem.close()
        await admin.close()
        if pool is not None:
            await pool.shutdown()
        await verifier.close()
        ingest.writer.close()
        store.close()
        throttle.flush()

    async def health(request: Request) -> Response:
        return Response("ok", media_type="text/plain")

    routes: list[BaseRoute] = [
        *participants.routes(),
        *admin.routes(),
        Route("/healthz", health),
        *pyodide.routes(),
        *runtime_file_routes(),
        *wheelhouse.routes(),
        *ingest.routes(),
        *study_file_routes(experiment),
        *vendor_mounts(settings.node_modules, hide=package_page if settings.production else None),
        Mount(
            "/static",
            app=StaticRoot(
                settings.static_dir,
                REVALIDATE,
                hide=development_only if settings.production else None,
            ),
            name="static",
        ),
    ]
    http = Starlette(routes=routes, lifespan=lifespan)
    http.state.settings = settings
    http.state.wheelhouse = wheelhouse
    http.state.sio = sio
    http.state.store = store
    http.state.signer = signer
    http.state.ingest = ingest
    http.state.connections = connections
    http.state.experiment = experiment
    http.state.flow = flow
    http.state.verifier = verifier
    http.state.games = games
    http.state.net_games = net_games
    http.state.netem = netem
    http.state.groups = groups
    http.state.rooms = rooms
    http.state.env_pool = pool
    http.state.admin = admin
    app: ASGIApp = socketio.ASGIApp(sio, other_asgi_app=http, socketio_path="socket.io")
    app = CrossOriginIsolation(app, settings)
    return app
