"""One participant as the admin console shows them: their stored fields, uploads, a timeline of
what happened (scenes, events, episodes, errors, focus losses, uploads), their episodes and
groups, and their records page by page. Synchronous, run in a thread.

The other half: ``views.py`` (which adds the live part from the monitor and caches); the
queries are in ``interactive_gym/data/summaries.py``.

``participant_detail`` payload::

    {"participant": {every stored field (times ISO), "bot": bool},
     "uploads": {"acked_records", "acked_chunks", "uploaded_records", "server_records",
                 "pending_records": int | None, "connected": bool, "last_seen_s": float | None},
     "live": None | {"connected", "sockets", "last_seen_s", "records", "chunks",
              "pending_records", "pending_at", "scene_id", "scene_index", "episode", "step",
              "focus", "focus_losses", "episodes", "last_return", "group_id",
              "errors"},                      # the monitor's (since the server started)
     "timeline": [{"t": ms (the record's client time), "at": iso, "kind": "scene" | "event" |
                   "episode" | "error" | "focus" | "upload", "scene_id", "label", "episode",
                   "step", "owner", "data"}], # oldest first, at most MAX_TIMELINE (the newest);
                                              # "upload": the chunks stored per minute
     "episodes": [{"owner", "scene_id", "episode", "attempt", "return", "steps", "ended_by",
                   "verified", "t"}],         # a group game's episodes: owner = the group id
     "groups": [{"group_id", "room_id", "condition", "members": [{"participant_id",
                 "agent_id", "waited_s"}], "stand_ins", "formed_at", "ended_at", "ended_how",
                 "scenes", "left"}],
     "errors": [timeline entries of kind "error", with "data.traceback"]}

``participant_records`` payload: ``{"participant_id", "kind", "records": [record rows, newest
chunk first], "next_before": "seq:idx" | None}``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from interactive_gym.admin.owner import is_error
from interactive_gym.data import summaries
from interactive_gym.data.store import Store
from interactive_gym.data.summaries import MAX_TIMELINE, when

TIMELINE_KINDS = ("event", "episode")


def _iso_ms(t: float) -> str | None:
    try:
        return datetime.fromtimestamp(t / 1000, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def _entry(record: dict[str, Any]) -> dict[str, Any]:
    data = record["data"] if isinstance(record["data"], dict) else {}
    kind = data.get("type")
    scene_id = record["scene_id"]
    if record["kind"] == "episode":
        what = "episode"
        label = (
            f"episode {record['episode']} ended ({data.get('ended_by')}), "
            f"return {data.get('return')}"
        )
    elif kind in ("scene_start", "scene_end"):
        what = "scene"
        label = f"{scene_id} {'started' if kind == 'scene_start' else 'ended'}"
    elif kind == "focus":
        what = "focus"
        label = f"focus: {data.get('state')}"
    elif is_error(kind):
        what = "error"
        label = f"{kind}: {data.get('message') or data.get('error') or ''}".strip(": ")
    else:
        what = "event"
        label = str(kind)
    return {
        "t": record["t"],
        "at": _iso_ms(record["t"]),
        "kind": what,
        "scene_id": scene_id,
        "label": label,
        "episode": record["episode"],
        "step": record["step"],
        "owner": record["participant_id"],
        "data": data,
    }


def _uploads_per_minute(chunks: list[tuple[datetime, int]]) -> list[dict[str, Any]]:
    minutes: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for at, n in chunks:
        if at is None:
            continue
        bucket = minutes[at.replace(second=0, microsecond=0)]
        bucket[0] += 1
        bucket[1] += n
    return [
        {
            "t": minute.timestamp() * 1000,
            "at": minute.isoformat(),
            "kind": "upload",
            "scene_id": None,
            "label": f"{n} record(s) stored in {c} chunk(s)",
            "episode": None,
            "step": None,
            "owner": None,
            "data": {"chunks": c, "records": n},
        }
        for minute, (c, n) in sorted(minutes.items())
    ]


def _group(group: Any) -> dict[str, Any]:
    return {
        "group_id": group.group_id,
        "room_id": group.room_id,
        "condition": group.condition,
        "members": [
            {"participant_id": m.participant_id, "agent_id": m.agent_id, "waited_s": m.waited_s}
            for m in group.members
        ],
        "stand_ins": dict(group.stand_ins),
        "formed_at": when(group.formed_at),
        "ended_at": when(group.ended_at),
        "ended_how": group.ended_how,
        "scenes": dict(group.scenes),
        "left": dict(group.left),
    }


def participant_detail(
    store: Store, participant_id: str, live: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The detail of one participant (None: unknown); ``live``: the monitor's
    ``owner(participant_id)``, taken on the event loop."""
    found = summaries.participant(store, participant_id)
    if found is None:
        return None
    totals, chunks = summaries.uploads(store, participant_id)
    groups = store.groups_of(participant_id)
    owners = [participant_id, *(g.group_id for g in groups)]
    records = summaries.records_of(store, owners, TIMELINE_KINDS)
    verdicts = summaries.verdicts(store, owners)
    mine = [_entry(r) for r in records if r["participant_id"] == participant_id]
    timeline = sorted(mine + _uploads_per_minute(chunks), key=lambda e: e["t"])[-MAX_TIMELINE:]
    episodes = [
        {
            "owner": r["participant_id"],
            "scene_id": r["scene_id"],
            "episode": r["episode"],
            "attempt": r["attempt"],
            "return": r["data"].get("return"),
            "steps": r["data"].get("length"),
            "ended_by": r["data"].get("ended_by"),
            "verified": verdicts.get(
                (r["participant_id"], r["scene_id"], r["episode"], r["attempt"])
            ),
            "t": r["t"],
        }
        for r in records
        if r["kind"] == "episode" and isinstance(r["data"], dict)
    ]
    uploads: dict[str, Any] = {
        **totals,
        "pending_records": live.get("pending_records") if live else None,
        "connected": bool(live and live.get("connected")),
        "last_seen_s": live.get("last_seen_s") if live else None,
    }
    return {
        "participant": found,
        "uploads": uploads,
        "live": live,
        "timeline": timeline,
        "episodes": episodes,
        "groups": [_group(g) for g in groups],
        "errors": [e for e in timeline if e["kind"] == "error"],
    }


def parse_cursor(text: str | None) -> tuple[int, int] | None:
    """``"seq:idx"`` → ``(seq, idx)``; raises ValueError naming the field."""
    if text is None or text == "":
        return None
    try:
        seq, idx = text.rsplit(":", 1)
        return int(seq), int(idx)
    except ValueError:
        raise ValueError(
            f"before: expected 'seq:idx' as given in next_before, got {text!r:.40}"
        ) from None


def participant_records(
    store: Store,
    participant_id: str,
    *,
    kind: str | None = None,
    limit: int = 100,
    before: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """One page of the participant's (or a group's) records."""
    rows, cursor = summaries.page(store, participant_id, kind=kind, limit=limit, before=before)
    return {
        "participant_id": participant_id,
        "kind": kind,
        "records": rows,
        "next_before": f"{cursor[0]}:{cursor[1]}" if cursor is not None else None,
    }
