"""The admin console's data as JSON over HTTP: GET routes under ``/admin/api/``, every one
behind ``auth.guard`` (no session: 401, console off: 404; see ``auth.py``).

The other half: ``views.py`` makes the payloads (the same the ``/admin`` socket pushes,
``hub.py``); the console's browser code (``admin/static/api.js``) fetches them.

- ``GET /admin/api/overview``, ``/games``, ``/plots[?bots=include]``: the payloads of
  ``views.py`` (plots are of people only unless ``bots=include``);
- ``GET /admin/api/participants?q=&status=&condition=&bots=&excluded=&limit=&offset=``: a
  page of participants (``q``: part of the id or of a URL parameter; ``bots`` and
  ``excluded``: ``include`` (default), ``exclude`` or ``only``; ``limit`` 1-1000, default 50);
- ``GET /admin/api/participants/{participant_id}``: their detail (``detail.py``), 404
  ``not_found`` for an unknown id;
- ``GET /admin/api/participants/{participant_id}/records?kind=&limit=&before=``: a page of
  their records (``kind``: step, survey, event, episode or input; ``before``: the
  ``next_before`` of the page before);
- ``GET /admin/api/audit?limit=&before=&action=``: the audit log, newest first.

A bad query parameter answers 400 ``{ok: false, error: "bad_request", message}``, the message
naming the parameter. Every answer is ``Cache-Control: no-store``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from interactive_gym.admin.audit import audit_log
from interactive_gym.admin.guard import Guard
from interactive_gym.admin.views import FILTERS, AdminViews
from interactive_gym.data.records import KINDS

NO_STORE = {"cache-control": "no-store"}
MAX_LIMIT = 1000
MAX_TEXT = 128


class BadRequest(ValueError):
    """A query parameter that cannot be used; the message names it."""


def _json(payload: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(payload, status, headers=NO_STORE)


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise BadRequest(f"{name}: expected a whole number from {low} to {high}, got {text!r:.40}")
    return value


def _text(request: Request, name: str, choices: tuple[str, ...] = ()) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if choices and value not in choices:
        raise BadRequest(f"{name}: expected one of {', '.join(choices)}, got {value!r:.40}")
    if len(value) > MAX_TEXT:
        raise BadRequest(f"{name}: longer than {MAX_TEXT} characters")
    return value


class AdminApi:
    """The console's GET routes over :class:`~.views.AdminViews`."""

    def __init__(self, auth: Guard, views: AdminViews) -> None:
        self.auth = auth
        self.views = views

    def routes(self) -> list[Route]:
        guard = self.auth.guard
        return [
            Route("/admin/api/overview", guard(self.overview), methods=["GET"]),
            Route("/admin/api/games", guard(self.games), methods=["GET"]),
            Route("/admin/api/plots", guard(self.plots), methods=["GET"]),
            Route("/admin/api/participants", guard(self.participants), methods=["GET"]),
            Route(
                "/admin/api/participants/{participant_id}",
                guard(self.participant),
                methods=["GET"],
            ),
            Route(
                "/admin/api/participants/{participant_id}/records",
                guard(self.records),
                methods=["GET"],
            ),
            Route("/admin/api/audit", guard(self.audit), methods=["GET"]),
        ]

    async def _answer(self, work: Callable[[], Awaitable[Any]]) -> Response:
        try:
            found = await work()
        except (BadRequest, ValueError) as exc:
            return _json({"ok": False, "error": "bad_request", "message": str(exc)}, 400)
        if found is None:
            return _json({"ok": False, "error": "not_found", "message": "no such participant"}, 404)
        return _json(found)

    async def overview(self, request: Request) -> Response:
        return await self._answer(self.views.overview)

    async def games(self, request: Request) -> Response:
        return await self._answer(self.views.games)

    async def plots(self, request: Request) -> Response:
        async def work() -> Any:
            bots = _text(request, "bots", ("include", "exclude")) or "exclude"
            return await self.views.plots(bots=bots == "include")

        return await self._answer(work)

    async def participants(self, request: Request) -> Response:
        async def work() -> Any:
            return await self.views.participants(
                q=_text(request, "q"),
                status=_text(request, "status"),
                condition=_text(request, "condition"),
                bots=_text(request, "bots", FILTERS) or "include",
                excluded=_text(request, "excluded", FILTERS) or "include",
                limit=_int(request, "limit", 50, 1, MAX_LIMIT),
                offset=_int(request, "offset", 0, 0, 10**9),
            )

        return await self._answer(work)

    async def participant(self, request: Request) -> Response:
        participant_id = request.path_params["participant_id"]
        return await self._answer(lambda: self.views.participant(participant_id))

    async def records(self, request: Request) -> Response:
        async def work() -> Any:
            return await self.views.records(
                request.path_params["participant_id"],
                kind=_text(request, "kind", KINDS),
                limit=_int(request, "limit", 100, 1, MAX_LIMIT),
                before=_text(request, "before"),
            )

        return await self._answer(work)

    async def audit(self, request: Request) -> Response:
        async def work() -> Any:
            limit = _int(request, "limit", 100, 1, MAX_LIMIT)
            before = request.query_params.get("before")
            action = _text(request, "action")
            entries = await asyncio.to_thread(
                audit_log,
                self.views.store,
                limit=limit,
                before=_int(request, "before", 0, 1, 2**62) if before else None,
                action=action,
            )
            return {"entries": entries}

        return await self._answer(work)
