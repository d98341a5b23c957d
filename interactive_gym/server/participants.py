"""The participant entry at ``/``: who this is, their record, and the signed token for the page.

A participant arriving at ``/?PROLIFIC_PID=...&STUDY_ID=...`` gets a participant record holding
every URL parameter, a between-subject condition (the least-filled one), a seed and their scene
order. The page receives a token signed for that participant (also set as a cookie), which the
socket uses to bind the browser to them. Identity comes, in order, from the experiment's
participant id parameter, the cookie of an earlier visit, or a new generated id; coming back
therefore resumes the same participant, and a completed participant sees their completion code
instead of the study.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets

import socketio
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from interactive_gym.data.store import Participant, ParticipantExists, Store
from interactive_gym.server.flow import Flow
from interactive_gym.server.ingest import Ingest
from interactive_gym.server.participant_pages import completed_page, message_page, study_page
from interactive_gym.server.tokens import InvalidToken, TokenSigner
from interactive_gym.study import Experiment

log = logging.getLogger("interactive_gym.participants")

COOKIE = "ig_participant"
COOKIE_MAX_AGE_S = 90 * 24 * 3600
PARTICIPANT_ID = re.compile(r"^[A-Za-z0-9_.@:-]{1,128}$")
MAX_PARAMS = 64
MAX_PARAM_NAME = 128
MAX_PARAM_VALUE = 2048


class BadEntry(Exception):
    """The link cannot start the study; the message is shown to the participant."""


def url_params(request: Request) -> dict[str, str]:
    """Every URL parameter (the last value of a repeated one), within size limits."""
    items = request.query_params.multi_items()
    if len(items) > MAX_PARAMS:
        raise BadEntry(f"The link has more than {MAX_PARAMS} parameters.")
    params: dict[str, str] = {}
    for name, value in items:
        if not name or len(name) > MAX_PARAM_NAME or len(value) > MAX_PARAM_VALUE:
            raise BadEntry(f"The link's parameter {name[:40]!r} is too long.")
        params[name] = value
    return params


class Participants:
    """Creates and finds participants for one experiment and serves the entry page."""

    def __init__(self, experiment: Experiment, store: Store, signer: TokenSigner) -> None:
        self.experiment = experiment
        self.store = store
        self.signer = signer
        self._create_lock = asyncio.Lock()

    def routes(self) -> list[Route]:
        return [Route("/", self.entry, methods=["GET"])]

    def id_from_url(self, params: dict[str, str]) -> str | None:
        for name in self.experiment.participant_id_params:
            value = params.get(name, "").strip()
            if value:
                if not PARTICIPANT_ID.match(value):
                    raise BadEntry(
                        f"The link's {name} parameter is not a valid participant id "
                        "(1-128 letters, digits and _ . @ : -)."
                    )
                return value
        return None

    def id_from_cookie(self, request: Request) -> str | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        try:
            return self.signer.verify(token)
        except InvalidToken as exc:
            log.info("entry: ignoring cookie (%s)", exc.reason)
            return None

    async def returning_id(self, request: Request) -> str | None:
        """The participant of this experiment named by the cookie of an earlier visit."""
        cookie_id = self.id_from_cookie(request)
        if cookie_id is None:
            return None
        found = await asyncio.to_thread(self.store.get_participant, cookie_id)
        if found is None or found.experiment_id != self.experiment.experiment_id:
            return None
        return cookie_id

    async def find_or_create(
        self, participant_id: str | None, params: dict[str, str]
    ) -> Participant:
        """The participant, created (with condition, seed and scene order) if new."""
        if participant_id is not None:
            found = await self._find(participant_id, params)
            if found is not None:
                return found
        try:
            return await self._create(participant_id or secrets.token_hex(12), params)
        except ParticipantExists:  # two first visits at once: the other one created it
            found = await self._find(participant_id, params)  # type: ignore[arg-type]
            if found is None:
                raise
            return found

    async def _find(self, participant_id: str, params: dict[str, str]) -> Participant | None:
        found = await asyncio.to_thread(self.store.get_participant, participant_id)
        if found is None:
            return None
        if found.experiment_id != self.experiment.experiment_id:
            raise BadEntry("This participant id already took part in another study.")
        return await self._merge_params(found, params)

    async def _create(self, participant_id: str, params: dict[str, str]) -> Participant:
        async with self._create_lock:  # condition counts and creation in one step
            counts = await asyncio.to_thread(
                self.store.condition_counts, self.experiment.experiment_id
            )
            condition = self.experiment.assign_condition(counts)
            created = await asyncio.to_thread(
                self.store.create_participant,
                participant_id,
                self.experiment.experiment_id,
                condition=condition,
                url_params=params,
                seed=self.experiment.participant_seed(participant_id),
                scene_order=self.experiment.scene_order(participant_id, condition),
            )
        log.info("participant %s joined (condition %s)", participant_id, condition)
        return created

    async def _merge_params(self, participant: Participant, params: dict[str, str]) -> Participant:
        """Keep parameters a returning participant brings that were not recorded yet."""
        new = {k: v for k, v in params.items() if k not in participant.url_params}
        if not new:
            return participant
        merged = {**participant.url_params, **new}
        await asyncio.to_thread(
            self.store.update_participant, participant.participant_id, url_params=merged
        )
        return await asyncio.to_thread(self.store.get_participant, participant.participant_id)  # type: ignore[return-value]

    async def entry(self, request: Request) -> Response:
        """``GET /``: the study page for this participant (or their completion code)."""
        try:
            params = url_params(request)
            participant_id = self.id_from_url(params)
            if participant_id is None:
                participant_id = await self.returning_id(request)
            participant = await self.find_or_create(participant_id, params)
        except BadEntry as exc:
            log.warning("entry refused: %s", exc)
            return HTMLResponse(message_page(self.experiment.title, str(exc)), status_code=400)
        token = self.signer.issue(participant.participant_id)
        if participant.status == "completed":
            completion = self.experiment.completion(participant)
            response = HTMLResponse(completed_page(self.experiment.title, completion))
        else:
            response = HTMLResponse(study_page(self.experiment.title, token, participant))
        response.headers["cache-control"] = "no-store"
        response.set_cookie(
            COOKIE,
            token,
            max_age=COOKIE_MAX_AGE_S,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response


def register_participants(
    experiment: Experiment,
    sio: socketio.AsyncServer,
    store: Store,
    signer: TokenSigner,
    ingest: Ingest,
) -> Participants:
    """Serve ``experiment``: the entry at ``/`` and the flow handlers on the socket.

    Add ``participants.routes()`` to the Starlette routes.
    """
    Flow(experiment, store, ingest, sio).register()
    return Participants(experiment, store, signer)
