"""The admin console's data download: the export, as one zip, of everyone or of a filter.

``GET /admin/api/export?format=csv|parquet|jsonl&status=&condition=&bots=include|exclude|only
&excluded=include|exclude|only&participant=ID`` (``participant`` repeatable) answers
``interactive_gym-<experiment>-<UTC yyyymmddThhmmssZ>.zip`` holding exactly the files
``python -m interactive_gym.export --experiment <experiment> --format <format>`` writes for
the same participants (with ``--participant`` for each when filtered; see
:mod:`interactive_gym.export`, the other half): the tables, ``datapackage.json`` and
``CODEBOOK.md`` (what every file and column means, stating the download's time as the export
time), plus ``filter.json`` (the filter, the participants and the rows of each file). Without a
filter the tables are those of the command, byte for byte.

Filters combine (all must hold): ``status`` (``active`` or ``completed``), ``condition``,
``bots`` (bots are participants whose entry link had a ``bot`` parameter, as
``python -m interactive_gym.bots`` opens it), ``excluded`` (the researcher's exclusions, see
:mod:`interactive_gym.admin.actions`) and ``participant`` ids. A bad parameter answers 400
``{ok: false, error: "bad_request", message}`` naming it.

The zip is built in a temporary folder in a worker thread, streamed, and the folder removed
(on Linux at once: the open zip is read after its file is unlinked). Each download is audited
(``export``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import tempfile
import zipfile
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from interactive_gym.admin.audit import audit
from interactive_gym.admin.guard import Guard
from interactive_gym.data.data_package import CODEBOOK_FILE, PACKAGE_FILE
from interactive_gym.data.store import STATUSES, Participant, Store
from interactive_gym.data.summaries import is_bot, kept
from interactive_gym.data.tables import safe_name
from interactive_gym.export import FORMATS, export
from interactive_gym.study import Experiment

log = logging.getLogger("interactive_gym.admin")

CHOICES = ("include", "exclude", "only")
PARAMETERS = frozenset({"format", "status", "condition", "bots", "excluded", "participant"})
MAX_PARTICIPANTS = 10_000
MAX_ID = 128
#: Participant ids named in the audit entry (the full list is in the zip's filter.json).
AUDITED_IDS = 50
READ_SIZE = 1 << 20


class BadParameter(ValueError):
    """A query parameter the download cannot use; the message names it."""


def bad_request(message: str) -> JSONResponse:
    """The refusal of a bad parameter: 400 ``{ok: false, error: "bad_request", message}``."""
    return JSONResponse({"ok": False, "error": "bad_request", "message": message}, 400)


@dataclass(frozen=True)
class ExportFilter:
    """Which participants, in which format; everyone by default."""

    format: str = "csv"
    status: str | None = None
    condition: str | None = None
    bots: str = "include"
    excluded: str = "include"
    participants: tuple[str, ...] = ()

    @property
    def everyone(self) -> bool:
        """Whether the filter keeps every participant (the export is the command's)."""
        return self == ExportFilter(format=self.format)

    def as_dict(self) -> dict[str, Any]:
        """The filter as JSON values (``filter.json``, the audit)."""
        values = asdict(self)
        values["participants"] = list(self.participants)
        return values

    def select(self, participants: list[Participant]) -> set[str] | None:
        """The ids of ``participants`` the filter keeps (None: everyone, unfiltered).

        Raises :class:`BadParameter` for a ``participant`` that is not among them.
        """
        known = {p.participant_id for p in participants}
        unknown = [pid for pid in self.participants if pid not in known]
        if unknown:
            raise BadParameter(f"participant: {unknown[0]!r} is not a participant of this study")
        if self.everyone:
            return None
        named = set(self.participants)
        return {
            p.participant_id
            for p in participants
            if (self.status is None or p.status == self.status)
            and (self.condition is None or p.condition == self.condition)
            and kept(is_bot(p.url_params), self.bots)
            and kept(p.excluded, self.excluded)
            and (not named or p.participant_id in named)
        }


def _one(query: QueryParams, name: str) -> str | None:
    values = query.getlist(name)
    if len(values) > 1:
        raise BadParameter(f"{name}: given {len(values)} times, expected once")
    return values[0] if values and values[0] != "" else None


def _choice(query: QueryParams, name: str, choices: tuple[str, ...], default: str) -> str:
    value = _one(query, name) or default
    if value not in choices:
        raise BadParameter(f"{name}: expected one of {', '.join(choices)}, got {value!r:.60}")
    return value


def parse_filter(query: QueryParams) -> ExportFilter:
    """The download's filter from its query; :class:`BadParameter` names a bad parameter."""
    unknown = sorted(set(query.keys()) - PARAMETERS)
    if unknown:
        raise BadParameter(
            f"{unknown[0]:.60}: unknown parameter (expected {', '.join(sorted(PARAMETERS))})"
        )
    status = _one(query, "status")
    if status is not None and status not in STATUSES:
        raise BadParameter(f"status: expected one of {', '.join(STATUSES)}, got {status!r:.60}")
    condition = _one(query, "condition")
    if condition is not None and len(condition) > MAX_ID:
        raise BadParameter(f"condition: at most {MAX_ID} characters")
    ids = [pid for pid in query.getlist("participant") if pid != ""]
    if len(ids) > MAX_PARTICIPANTS:
        raise BadParameter(f"participant: at most {MAX_PARTICIPANTS} ids, got {len(ids)}")
    if any(len(pid) > MAX_ID for pid in ids):
        raise BadParameter(f"participant: an id has at most {MAX_ID} characters")
    return ExportFilter(
        format=_choice(query, "format", FORMATS, "csv"),
        status=status,
        condition=condition,
        bots=_choice(query, "bots", CHOICES, "include"),
        excluded=_choice(query, "excluded", CHOICES, "include"),
        participants=tuple(dict.fromkeys(ids)),
    )


def zip_name(experiment_id: str, at: datetime) -> str:
    """``interactive_gym-<experiment>-<UTC yyyymmddThhmmssZ>.zip``."""
    return f"interactive_gym-{safe_name(experiment_id)}-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}.zip"


@dataclass
class Built:
    """A zip ready to stream: its open file, its folder (removed after), its size."""

    handle: IO[bytes]
    folder: Path
    size: int
    summary: dict[str, Any]

    def close(self) -> None:
        self.handle.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def build_zip(
    store: Store,
    experiment_id: str,
    chosen: ExportFilter,
    folder: Path,
    at: datetime,
) -> tuple[Path, dict[str, Any]]:
    """Write the export of the filter's participants to ``folder`` and zip it (its tables,
    ``datapackage.json``, ``CODEBOOK.md``) with ``filter.json``; returns the zip and the
    summary (``filter.json``).
    Blocks on the database and the disk: run it in a thread."""
    participants = store.participants(experiment_id)
    ids = chosen.select(participants)
    files = folder / "export"
    written = export(store, files, chosen.format, experiment_id, ids, at=at)
    kept = [p.participant_id for p in participants if ids is None or p.participant_id in ids]
    summary = {
        "experiment_id": experiment_id,
        "exported_at": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "format": chosen.format,
        "filter": chosen.as_dict(),
        "everyone": chosen.everyone,
        "participants": len(kept),
        "participant_ids": kept,
        "rows": written,
    }
    archive = folder / "export.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for name in [*written, PACKAGE_FILE, CODEBOOK_FILE]:
            zipped.write(files / name, name)
        zipped.writestr("filter.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    shutil.rmtree(files)
    return archive, summary


def audit_detail(summary: dict[str, Any]) -> dict[str, Any]:
    """What the audit keeps of a download: the filter, counts, the first ids."""
    chosen = dict(summary["filter"])
    named = chosen["participants"]
    chosen["participants"] = named[:AUDITED_IDS]
    if len(named) > AUDITED_IDS:
        chosen["participants_given"] = len(named)
    return {"filter": chosen, "participants": summary["participants"], "rows": summary["rows"]}


class Downloads:
    """The download route of one experiment's data."""

    def __init__(self, store: Store, experiment: Experiment, tmp_dir: Path | None = None) -> None:
        self.store = store
        self.experiment = experiment
        self.tmp_dir = tmp_dir

    def _build(self, chosen: ExportFilter, at: datetime, actor: str) -> Built:
        folder = Path(tempfile.mkdtemp(prefix="ig-export-", dir=self.tmp_dir))
        try:
            archive, summary = build_zip(
                self.store, self.experiment.experiment_id, chosen, folder, at
            )
            audit(self.store, actor, "export", None, audit_detail(summary))
            handle = archive.open("rb")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        size = archive.stat().st_size
        shutil.rmtree(folder, ignore_errors=True)  # POSIX: the open zip stays readable
        return Built(handle, folder, size, summary)

    async def download(self, request: Request) -> Response:
        """``GET /admin/api/export``: the zip, or 400 naming a bad parameter."""
        try:
            chosen = parse_filter(request.query_params)
            at = datetime.now(UTC)
            actor = request.state.admin.actor
            built = await asyncio.to_thread(self._build, chosen, at, actor)
        except BadParameter as exc:
            return bad_request(str(exc))
        name = zip_name(self.experiment.experiment_id, at)
        log.info("admin export %s: %d participants", name, built.summary["participants"])
        return StreamingResponse(
            stream(built),
            media_type="application/zip",
            headers={
                "content-disposition": f'attachment; filename="{name}"',
                "content-length": str(built.size),
                "cache-control": "no-store",
            },
        )


async def stream(built: Built) -> AsyncIterator[bytes]:
    """The zip's bytes; the file is closed and its folder removed however the stream ends."""
    try:
        while chunk := await asyncio.to_thread(built.handle.read, READ_SIZE):
            yield chunk
    finally:
        built.close()


def routes(
    auth: Guard, store: Store, experiment: Experiment, *, tmp_dir: Path | None = None
) -> list[Route]:
    """``GET /admin/api/export`` behind the admin session (``tmp_dir``: where zips are built,
    default the system's temporary folder)."""
    downloads = Downloads(store, experiment, tmp_dir)
    return [Route("/admin/api/export", auth.guard(downloads.download), methods=["GET"])]
