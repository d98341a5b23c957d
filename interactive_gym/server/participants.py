"""The participant entry: the study page at ``GET /`` and the start at ``POST /api/start``.

``GET /`` creates nothing: it answers the page shell (or, to a browser whose cookie names a
participant who completed, their completion code). The page's own script then starts the study
with ``POST /api/start`` ``{params: {URL parameters}}`` and gets ``{ok, token, participant_id,
status, completion?}``; the token is also set as an HttpOnly cookie, and the socket uses it to
bind the page to the participant.

Who the participant is comes from the experiment's participant id parameter (Prolific's
``PROLIFIC_PID``, MTurk's ``workerId`` by default), else from the cookie of an earlier visit,
else a new generated id. A participant is bound to the browser that started them: a later
visit with the same id from another browser (no cookie for them, or one issued before they
moved) is refused with ``started_elsewhere`` and a message the page shows, unless the study
allows moving to a new device (``Experiment(allow_device_change=True)``), or the participant
was released (``python -m interactive_gym.participants release``). A new participant gets
their URL parameters, a seed and the scenes before the study's ``Conditions`` block; the
condition comes when they reach it (``paths.py``). Parameters recorded at the first visit are
never overwritten; later visits may add new ones within the same bounds.

Refusals are JSON ``{ok: false, error, message}`` with a status: 400 bad parameters, 403 a
request from another origin, 409 started elsewhere, 413 a body too large, 429 too many starts
from one address.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from interactive_gym.data.store import Participant, ParticipantExists, Store
from interactive_gym.server.limits import KeyedLimiter, LogThrottle
from interactive_gym.server.participant_pages import completed_page, study_page
from interactive_gym.server.paths import Paths
from interactive_gym.server.refusals import Refused
from interactive_gym.server.tokens import InvalidToken, TokenClaims, TokenSigner
from interactive_gym.server.wire_json import read_json
from interactive_gym.study import Experiment

log = logging.getLogger("interactive_gym.participants")

COOKIE = "ig_participant"
PARTICIPANT_ID = re.compile(r"^[A-Za-z0-9_.@:-]{1,128}$")
MAX_PARAMS = 64
MAX_PARAM_NAME = 128
MAX_PARAM_VALUE = 2048
#: Bytes of URL parameters kept for one participant, over all their visits.
MAX_PARAMS_BYTES = 16 * 1024
MAX_START_BYTES = 64 * 1024
STARTED_ELSEWHERE = "started_elsewhere"
STARTED_ELSEWHERE_MESSAGE = (
    "This study was already started in another browser or on another device, so it cannot "
    "be continued here. Please go back to the browser where you started it. If that is no "
    "longer possible, contact the researcher, who can move your session to this browser."
)


def refused(status: int, error: str, message: str) -> Refused:
    """A refused start: ``message`` is shown to the participant, ``error`` names the kind."""
    return Refused(message, status=status, error=error)


def bad_params(message: str) -> Refused:
    return refused(400, "params", message)


def check_params(params: object) -> dict[str, str]:
    """The page's URL parameters (``{name: value}``, text only), within size limits."""
    if not isinstance(params, dict):
        raise bad_params("params: expected an object of URL parameters")
    if len(params) > MAX_PARAMS:
        raise bad_params(f"The link has more than {MAX_PARAMS} parameters.")
    for name, value in params.items():
        if not isinstance(value, str):
            raise bad_params(f"params[{str(name)[:40]!r}]: expected text")
        if not name or len(name) > MAX_PARAM_NAME or len(value) > MAX_PARAM_VALUE:
            raise bad_params(f"The link's parameter {str(name)[:40]!r} is too long.")
    return dict(params)


def params_size(params: Mapping[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in params.items())


def merged_params(kept: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str] | None:
    """``kept`` plus parameters of ``new`` not recorded yet, within bounds (None: no change)."""
    merged = dict(kept)
    for name, value in new.items():
        if name in merged:
            continue  # recorded at an earlier visit: never overwritten
        if len(merged) >= MAX_PARAMS or params_size(merged) + len(name) + len(value) > (
            MAX_PARAMS_BYTES
        ):
            log.info("entry: parameters beyond the bound not recorded (%r, ...)", name[:40])
            break
        merged[name] = value
    return merged if len(merged) != len(kept) else None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class Participants:
    """Creates and finds participants for one experiment and serves the entry."""

    def __init__(
        self,
        experiment: Experiment,
        store: Store,
        signer: TokenSigner,
        paths: Paths,
        *,
        code_key: bytes,
        limiter: KeyedLimiter,
        throttle: LogThrottle,
        on_device_moved: Callable[[str], Awaitable[None]] | None = None,
        allowed_origins: tuple[str, ...] = (),
    ) -> None:
        self.experiment = experiment
        self.store = store
        self.signer = signer
        self.paths = paths
        self.limiter = limiter
        self.throttle = throttle
        self.on_device_moved = on_device_moved
        self.code_key = code_key
        self.allowed_origins = frozenset(allowed_origins)

    def routes(self) -> list[Route]:
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/api/start", self.start, methods=["POST"]),
        ]

    # who is asking --------------------------------------------------------------------------

    def id_from_url(self, params: Mapping[str, str]) -> str | None:
        for name in self.experiment.participant_id_params:
            value = params.get(name, "").strip()
            if value:
                if not PARTICIPANT_ID.match(value):
                    raise bad_params(
                        f"The link's {name} parameter is not a valid participant id "
                        "(1-128 letters, digits and _ . @ : -)."
                    )
                return value
        return None

    def cookie_claims(self, request: Request) -> TokenClaims | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        try:
            return self.signer.verify(token)
        except InvalidToken as exc:
            message = "entry: ignoring cookie (%s)"
            self.throttle.log(log, "cookie", message, exc.reason, level=logging.INFO)
            return None

    async def holder(self, claims: TokenClaims | None) -> Participant | None:
        """The participant the cookie's token names, if it is still theirs in this browser."""
        if claims is None:
            return None
        found = await asyncio.to_thread(self.store.get_participant, claims.participant_id)
        if found is None or found.experiment_id != self.experiment.experiment_id:
            return None
        return found if found.device == claims.device else None

    # GET / ----------------------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        """The study page; a completed participant's browser sees their code instead."""
        participant = await self.holder(self.cookie_claims(request))
        if participant is not None and participant.status == "completed":
            html = completed_page(
                self.experiment.title,
                self.experiment.completion(participant, self.code_key, participant.completion_code),
            )
        else:
            html = study_page(self.experiment.title)
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    # POST /api/start ------------------------------------------------------------------------

    async def start(self, request: Request) -> Response:
        """Find or create the participant of this browser and hand the page its token."""
        try:
            self.check_origin(request)
            if not self.limiter.take(client_address(request)):
                raise refused(
                    429,
                    "rate_limited",
                    "Too many studies were started from your network just now. "
                    "Please wait a minute and reload the page.",
                )
            params = check_params(await self.read_body(request))
            participant = await self.find_or_create(request, params)
        except Refused as exc:
            address = client_address(request)
            self.throttle.log(log, "entry", "entry from %s refused: %s", address, exc.reason)
            error = exc.extra.get("error", "body")
            refusal = {"ok": False, "error": error, "message": exc.reason}
            headers = {"cache-control": "no-store"}
            if exc.status == 429:
                headers["retry-after"] = str(math.ceil(self.limiter.retry_after(address)))
            return JSONResponse(refusal, exc.status, headers=headers)
        token = self.signer.issue(participant.participant_id, participant.device)
        body: dict[str, Any] = {
            "ok": True,
            "token": token,
            "participant_id": participant.participant_id,
            "status": participant.status,
        }
        if participant.status == "completed":
            body["completion"] = self.experiment.completion(
                participant, self.code_key, participant.completion_code
            )
        response = JSONResponse(body, headers={"cache-control": "no-store"})
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(self.signer.max_age_s),
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return response

    def check_origin(self, request: Request) -> None:
        """Only the study's own pages may start it (no cross-site form or script)."""
        origin = request.headers.get("origin")
        own = f"{request.url.scheme}://{request.url.netloc}"
        if origin is not None and origin != own and origin not in self.allowed_origins:
            raise refused(403, "origin", f"origin: {origin[:80]!r} is not this server")
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise refused(400, "body", "body: expected application/json")

    @staticmethod
    async def read_body(request: Request) -> object:
        """The URL parameters in the body ``{params: {...}}``."""
        payload = await read_json(request, MAX_START_BYTES)
        if not isinstance(payload, dict) or set(payload) - {"params"}:
            raise bad_params("body: expected {params: {URL parameters}}")
        return payload.get("params", {})

    async def find_or_create(self, request: Request, params: dict[str, str]) -> Participant:
        claims = self.cookie_claims(request)
        named = self.id_from_url(params)
        if named is None:
            returning = await self.holder(claims)
            if returning is not None:
                return await self.remember_params(returning, params)
            return await self.create(secrets.token_hex(12), params)
        found = await asyncio.to_thread(self.store.get_participant, named)
        if found is None:
            try:
                return await self.create(named, params)
            except ParticipantExists:  # another browser created them a moment ago
                found = await asyncio.to_thread(self.store.get_participant, named)
                assert found is not None
        if found.experiment_id != self.experiment.experiment_id:
            raise bad_params("This participant id already took part in another study.")
        if claims is None or claims.participant_id != named or claims.device != found.device:
            if found.released and await asyncio.to_thread(self.store.claim_released, named):
                log.info("participant %s: released, now continues in this browser", named)
                if self.on_device_moved is not None:
                    await self.on_device_moved(named)  # the old browser's pages stop
            elif self.experiment.allow_device_change:
                found = await self.move_device(found)
            else:
                raise refused(409, STARTED_ELSEWHERE, STARTED_ELSEWHERE_MESSAGE)
        return await self.remember_params(found, params)

    async def move_device(self, participant: Participant) -> Participant:
        device = await asyncio.to_thread(self.store.move_device, participant.participant_id)
        log.info("participant %s moved to another browser", participant.participant_id)
        if self.on_device_moved is not None:
            await self.on_device_moved(participant.participant_id)
        return await self.reload(participant.participant_id, device)

    async def reload(self, participant_id: str, device: int | None = None) -> Participant:
        found = await asyncio.to_thread(self.store.get_participant, participant_id)
        assert found is not None and (device is None or found.device == device)
        return found

    async def create(self, participant_id: str, params: dict[str, str]) -> Participant:
        if params_size(params) > MAX_PARAMS_BYTES:
            raise bad_params(f"The link's parameters are longer than {MAX_PARAMS_BYTES} bytes.")
        path = self.paths.first(participant_id)
        if path is not None:
            return await self.insert(participant_id, params, path.condition, path.scene_order)
        async with self.paths.lock:  # the study opens with its Conditions block
            path = await self.paths.assign(participant_id)
            return await self.insert(participant_id, params, path.condition, path.scene_order)

    async def insert(
        self, participant_id: str, params: dict[str, str], condition: str | None, order: list[str]
    ) -> Participant:
        created = await asyncio.to_thread(
            self.store.create_participant,
            participant_id,
            self.experiment.experiment_id,
            condition=condition,
            url_params=params,
            seed=self.experiment.participant_seed(participant_id),
            scene_order=order,
        )
        log.info("participant %s started", participant_id)
        return created

    async def remember_params(
        self, participant: Participant, params: dict[str, str]
    ) -> Participant:
        merged = merged_params(participant.url_params, params)
        if merged is None:
            return participant
        await asyncio.to_thread(
            self.store.update_participant, participant.participant_id, url_params=merged
        )
        return await self.reload(participant.participant_id)
