"""What the admin console's live monitor keeps of one participant or group (an *owner* of
records), and the copy of its totals the views get.

The other half: ``monitor.py`` fills these as chunks are stored.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from interactive_gym.admin.figures import Sample

#: Most tick samples kept per owner (5 s at up to 64 ticks/s).
MAX_SAMPLES = 320
#: Errors kept per owner.
MAX_OWNER_ERRORS = 20


def is_error(kind: object) -> bool:
    """Whether an event's ``data.type`` reports an error (``game_error``, ``net_state_failed``)."""
    return isinstance(kind, str) and (kind.endswith("error") or kind.endswith("_failed"))


def iso(moment: float) -> str:
    """A unix time as ISO 8601 UTC text."""
    return datetime.fromtimestamp(moment, UTC).isoformat()


class Owner:
    """What the monitor keeps of one participant or group."""

    __slots__ = (
        "owner_id", "first_seen", "last_seen", "last_tick", "version", "records", "chunks",
        "pending", "pending_at", "scene_id", "scene_index", "episode", "attempt", "step",
        "runtime", "netcode", "members", "group_id", "samples", "started", "dropped_total",
        "rollbacks", "rollback_frames", "desyncs", "focus", "focus_losses", "episodes",
        "last_return", "errors",
    )  # fmt: skip

    def __init__(self, owner_id: str, now: float) -> None:
        self.owner_id = owner_id
        self.first_seen = now
        self.last_seen = now
        self.last_tick: float | None = None
        self.version = 0
        self.records = 0
        self.chunks = 0
        self.pending: int | None = None
        self.pending_at: float | None = None
        self.scene_id: str | None = None
        self.scene_index: int | None = None
        #: The scene was set by its ``scene_start`` event (ticks of another scene are a tail).
        self.started = False
        self.episode: int | None = None
        self.attempt: int | None = None
        self.step: int | None = None
        self.runtime: str | None = None
        self.netcode: str | None = None
        #: A group's members, from its step records (``participant_<agent>``).
        self.members: tuple[str, ...] = ()
        #: The group a participant was last matched into (``waiting_matched``, group events).
        self.group_id: str | None = None
        self.samples: deque[Sample] = deque(maxlen=MAX_SAMPLES)
        self.dropped_total = 0
        self.rollbacks = 0
        self.rollback_frames = 0
        self.desyncs = 0
        self.focus: str | None = None
        self.focus_losses = 0
        self.episodes = 0
        self.last_return: float | None = None
        self.errors: deque[dict[str, Any]] = deque(maxlen=MAX_OWNER_ERRORS)

    def new_scene(self, scene_id: str) -> None:
        """The owner started another scene: the game figures start over (not for the first
        scene seen: what came with it counts)."""
        first = self.scene_id is None
        self.scene_id = scene_id
        self.started = False
        if first:
            return
        self.samples.clear()
        self.episode = self.attempt = self.step = None
        self.runtime = self.netcode = None
        self.last_tick = None
        self.dropped_total = self.rollbacks = self.rollback_frames = self.desyncs = 0


@dataclass(frozen=True)
class Live:
    """A copy of the monitor's totals, taken on the event loop, for the views."""

    at: float
    since: float  # when the monitor started
    version: int
    acked_records: int
    acked_chunks: int
    pending_records: int
    connected: frozenset[str]
    events_seen: int
    episodes_seen: int
    errors_seen: int
    playing: int  # owners playing now (see LiveMonitor.games)
