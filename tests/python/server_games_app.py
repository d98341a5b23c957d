"""The real app with server-runtime games, as ``create_app`` builds it, and its ``ServerGames``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.types import ASGIApp

from interactive_gym.server import Settings, create_app
from interactive_gym.server.server_games import ServerGames
from interactive_gym.study import Experiment


def starlette_of(app: Any) -> Any:
    """The Starlette part of the app ``create_app`` builds (its ``state`` holds the pieces)."""
    while not hasattr(app, "other_asgi_app"):
        app = app.app
    return app.other_asgi_app


def app_with_games(
    settings: Settings, experiment: Experiment, *, workers: int = 1
) -> tuple[ASGIApp, ServerGames]:
    """The app (its env pool starts and stops with its lifespan) and its games."""
    app = create_app(replace(settings, env_workers=workers), experiment)
    games = starlette_of(app).state.games
    assert games is not None, "the experiment has no server-runtime game scene"
    return app, games
