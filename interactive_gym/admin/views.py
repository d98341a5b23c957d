"""What the admin console shows, as JSON-ready dicts: :class:`AdminViews`.

The other half: ``hub.py`` pushes these over the ``/admin`` socket and ``api.py`` serves them
as GET routes. Live figures come from the :class:`~.monitor.LiveMonitor`, copied on the event
loop; everything else from the database in a thread (``asyncio.to_thread``; the queries are in
``interactive_gym/data/summaries.py``, one participant's detail in ``detail.py``). Slow parts
are cached (:class:`Slow`): recomputed when what they depend on moved, at most every few
seconds, so the overview stays cheap with thousands of participants and millions of records.

People are participants without ``bot`` in their URL parameters; bots are counted apart.
``excluded`` participants count only as excluded (not active or completed, not in the funnel,
conditions, arrivals or plots); the earlier runs of a reset participant (``reset_at`` set)
count nowhere but ``reset``.

Payloads::

    overview = {"at": iso, "experiment_id", "version": int,
      "people": {"total", "active", "completed", "excluded", "connected", "reset"},
      "bots":   {the same},
      "funnel": [{"stage": "arrived" | scene_id | "completed", "label", "count"}],
      "at_scene": [{"scene_id", "count"}],           # active people at each scene now
      "conditions": [{"condition", "assigned", "completed", "expected_share"}],  # [] if none
      "arrivals": [{"minute": iso, "count"}], "arrivals_bin_minutes": int,   # zero-filled
      "scene_times": [{"scene_id", "median_s", "n"}],   # first scene_start to last scene_end
      "uploads": {"acked_records", "acked_chunks", "pending_records", "since": iso},
      "games_in_progress": int, "errors": int}
      # acked_*, errors: since the server started ("since"); pending_records: what the
      # browsers last said they still hold, summed
    games = {"at", "version",
      "games": [{"owner", "kind": "participant" | "group", "participant_ids", "group_id",
        "scene_id", "runtime", "netcode", "episode", "step", "fps", "target_fps", "samples",
        "late_ms_p50", "late_ms_p95", "dropped", "dropped_total", "round_trip_ms_p50",
        "worker_ms_p50", "draw_ms_p50", "rollbacks", "rollback_frames", "desyncs",
        "last_seen_s"}],                                # figures over the last 5 s of ticks
      "summary": {"games", "shown", "fps_ratio_p50", "below_90_percent"},  # every game;
        # rows: at most MAX_GAME_ROWS, those furthest below their target fps
      "rooms": [{"room_id", "waiting", "present", "group_size"}],
      "groups": [{"group_id", "room_id", "condition", "members", "scene_id", "status",
        "formed_at"}],                                  # groups not ended; status "playing"
      "errors": [{"at", "participant_id", "scene_id", "type", "stage", "episode", "step",
        "message", "traceback"}]}                       # newest first
    plots = {"episode_returns": [{"condition", "scene_id", "returns": [float]}],
      "latency_ms": {"bins": [edges], "round_trip": [counts], "worker": [counts]},
      "frame_ms": {"bins": [edges], "late": [counts], "draw": [counts]},
      "completion_minutes": [float],
      "surveys": [{"scene_id", "question_id", "answers": {answer: count}}]}
    participants = {"total", "limit", "offset", "participants": [{"participant_id", "status",
      "condition", "url_params", "bot", "excluded", "scene_id", "scene_index", "created_at",
      "updated_at", "completed_at", "completion_code", "connected", "pending_records",
      "last_seen_s"}]}                                  # newest first

Histogram bins: bin ``i`` counts values from ``bins[i]`` up to ``bins[i + 1]``; the last bin
counts everything from its edge up. ``participant_detail`` and ``participant_records``: see
``detail.py``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from interactive_gym.admin import detail
from interactive_gym.admin.figures import GameSamples, game_row, percentile, recent, steps_per_s
from interactive_gym.admin.monitor import LiveMonitor
from interactive_gym.admin.owner import Live, iso
from interactive_gym.data import summaries
from interactive_gym.data.store import Store
from interactive_gym.data.summaries import Person, when
from interactive_gym.study import Experiment, GymScene

T = TypeVar("T")
#: Arrival bins, in minutes: the smallest giving at most :data:`MAX_BINS` bins.
BIN_MINUTES = (1, 5, 15, 60, 360, 1440, 10080)
MAX_BINS = 120
FILTERS = ("include", "exclude", "only")
#: Rows of the games payload: with more games in progress, those furthest below their target
#: frame rate (a researcher looks for problems; ``summary`` counts them all).
MAX_GAME_ROWS = 100


class Slow(Generic[T]):
    """A value computed again only when its key moved, at most every ``min_s`` (or 20 times
    its last cost) and at least every ``max_s``. Thread-safe."""

    def __init__(self, min_s: float, max_s: float) -> None:
        self.min_s = min_s
        self.max_s = max_s
        self._lock = threading.Lock()
        self._key: Any = object()
        self._at = -float("inf")
        self._cost = 0.0
        self._value: T | None = None

    def get(self, key: Any, compute: Callable[[], T]) -> T:
        return self.get_keyed(key, compute)[0]

    def get_keyed(self, key: Any, compute: Callable[[], T]) -> tuple[T, Any]:
        """The value and the key it was computed for (an older one while it is held)."""
        with self._lock:
            age = time.monotonic() - self._at
            stale = age >= self.max_s or (key != self._key and age >= max(self.min_s, self._cost))
            if self._value is None or stale:
                started = time.monotonic()
                self._value = compute()
                self._cost = 20 * (time.monotonic() - started)
                self._key, self._at = key, time.monotonic()
            return self._value, self._key


# the overview --------------------------------------------------------------------------------


def _counts(rows: list[Person], connected: frozenset[str]) -> dict[str, int]:
    counts = dict.fromkeys(("total", "active", "completed", "excluded", "connected", "reset"), 0)
    for p in rows:
        if p.reset:
            counts["reset"] += 1
            continue
        counts["total"] += 1
        counts["connected"] += p.participant_id in connected
        if p.excluded:
            counts["excluded"] += 1
        elif p.status in ("active", "completed"):
            counts[p.status] += 1
    return counts


def _arrivals(rows: list[Person], now: datetime) -> tuple[list[dict[str, Any]], int]:
    if not rows:
        return [], BIN_MINUTES[0]
    first = min(p.created_at for p in rows)
    span = max((now - first).total_seconds() / 60, 1)
    size = next((b for b in BIN_MINUTES if span / b <= MAX_BINS), BIN_MINUTES[-1])
    epoch = datetime(1970, 1, 1, tzinfo=UTC)

    def bin_of(moment: datetime) -> int:
        return int((moment - epoch).total_seconds() // 60) // size

    counts = Counter(bin_of(p.created_at) for p in rows)
    start, end = bin_of(first), max(bin_of(now), max(counts))
    return [
        {"minute": (epoch + timedelta(minutes=b * size)).isoformat(), "count": counts.get(b, 0)}
        for b in range(max(start, end - MAX_BINS * 4), end + 1)
    ], size


def overview(
    rows: list[Person],
    experiment: Experiment,
    live: Live,
    scene_times: list[dict[str, Any]],
) -> dict[str, Any]:
    """The overview payload from the participants, the live totals and the scene times."""
    people = [p for p in rows if not p.bot]
    counted = [p for p in people if not p.excluded and not p.reset]
    scenes = list(experiment.scenes_by_id)
    reached: Counter[str] = Counter()
    for p in counted:
        reached.update(set(p.scene_order[: p.scene_index + 1]) | {p.scene_id or ""})
    completed = sum(p.status == "completed" for p in counted)
    funnel = [{"stage": "arrived", "label": "arrived", "count": len(counted)}]
    funnel += [
        {"stage": s, "label": f"{s} ({experiment.scenes_by_id[s].scene_type})", "count": reached[s]}
        for s in scenes
    ]
    funnel.append({"stage": "completed", "label": "completed", "count": completed})
    here = Counter(p.scene_id for p in counted if p.status == "active" and p.scene_id)
    names = experiment.condition_names
    conditions = [
        {
            "condition": c,
            "assigned": sum(p.condition == c for p in counted),
            "completed": sum(p.condition == c and p.status == "completed" for p in counted),
            "expected_share": round(1 / len(names), 4),
        }
        for c in names
    ]
    arrivals, size = _arrivals(counted, datetime.fromtimestamp(live.at, UTC))
    order = {s: i for i, s in enumerate(scenes)}
    return {
        "at": iso(live.at),
        "experiment_id": experiment.experiment_id,
        "version": live.version,
        "people": _counts(people, live.connected),
        "bots": _counts([p for p in rows if p.bot], live.connected),
        "funnel": funnel,
        "at_scene": [
            {"scene_id": s, "count": n}
            for s, n in sorted(here.items(), key=lambda i: order.get(i[0], len(order)))
        ],
        "conditions": conditions,
        "arrivals": arrivals,
        "arrivals_bin_minutes": size,
        "scene_times": sorted(scene_times, key=lambda t: order.get(t["scene_id"], len(order))),
        "uploads": {
            "acked_records": live.acked_records,
            "acked_chunks": live.acked_chunks,
            "pending_records": live.pending_records,
            "since": iso(live.since),
        },
        "games_in_progress": live.playing,
        "errors": live.errors_seen,
    }


# games, rooms, groups ------------------------------------------------------------------------


def target_fps(experiment: Experiment, scene_id: str | None) -> int | None:
    scene = experiment.scenes_by_id.get(scene_id or "")
    return int(scene.fps) if isinstance(scene, GymScene) else None


def rooms_now(rooms: Any) -> list[dict[str, Any]]:
    """The waiting rooms and who waits in each (``server.waiting_rooms.WaitingRooms``)."""
    if rooms is None:
        return []
    from interactive_gym.server.room_matching import group_size

    waiting: Counter[str] = Counter()
    present: Counter[str] = Counter()
    for waiter in list(rooms.waiters.values()):
        waiting[waiter.room_id] += 1
        present[waiter.room_id] += bool(waiter.present)
    return [
        {"room_id": r, "waiting": waiting[r], "present": present[r], "group_size": group_size(room)}
        for r, room in rooms.experiment.rooms.items()
    ]


def groups_now(groups: Any, monitor: LiveMonitor, playing: set[str]) -> list[dict[str, Any]]:
    """The groups not ended (``server.groups.Groups.known``), newest first."""
    if groups is None:
        return []
    found = []
    for group in sorted(groups.known(), key=lambda g: g.formed_at, reverse=True):
        if group.ended_at is not None:
            continue
        owner = monitor.owners.get(group.group_id)
        found.append(
            {
                "group_id": group.group_id,
                "room_id": group.room_id,
                "condition": group.condition,
                "members": [m.participant_id for m in group.members],
                "scene_id": owner.scene_id if owner is not None else None,
                "status": "playing" if group.group_id in playing else "formed",
                "formed_at": when(group.formed_at),
            }
        )
    return found


def games(
    samples: list[GameSamples], experiment: Experiment, live: Live, **rest: Any
) -> dict[str, Any]:
    """The games payload (``rest``: ``rooms``, ``groups``, ``errors``, already listed).

    With more than :data:`MAX_GAME_ROWS` games in progress, the rows are those running
    furthest below their target frame rate; ``summary`` covers every game.
    """
    ranked = []
    for game in samples:
        target = target_fps(experiment, game.scene_id)
        fps = steps_per_s(recent(game.samples))
        ranked.append(((fps or 0.0) / target if target else 1.0, game, target, fps))
    ranked.sort(key=lambda r: r[0])
    rows = [game_row(g, target_fps=target) for _, g, target, _ in ranked[:MAX_GAME_ROWS]]
    rows.sort(key=lambda r: (r["scene_id"] or "", r["owner"]))
    rates = sorted(ratio for ratio, *_ in ranked)
    summary = {
        "games": len(ranked),
        "shown": len(rows),
        "fps_ratio_p50": percentile(rates, 50),
        "below_90_percent": sum(1 for ratio in rates if ratio < 0.9),
    }
    return {"at": iso(live.at), "version": live.version, "games": rows, "summary": summary, **rest}


# the façade ----------------------------------------------------------------------------------


class AdminViews:
    """Every view of the console, async (the database work in a thread), cached where slow.

    ``rooms`` (``WaitingRooms``) and ``groups`` (``Groups``) are optional: studies without
    waiting rooms have none.
    """

    def __init__(
        self,
        store: Store,
        experiment: Experiment,
        monitor: LiveMonitor,
        *,
        rooms: Any = None,
        groups: Any = None,
    ) -> None:
        self.store = store
        self.experiment = experiment
        self.monitor = monitor
        self.rooms = rooms
        self.groups = groups
        self._people: Slow[list[Person]] = Slow(1.0, 30.0)
        self._scene_times: Slow[list[dict[str, Any]]] = Slow(5.0, 120.0)
        # The plots, of people only (False) and with bots (True).
        self._returns: dict[bool, Slow[list[dict[str, Any]]]] = {
            b: Slow(5.0, 120.0) for b in (False, True)
        }
        self._surveys: dict[bool, Slow[list[dict[str, Any]]]] = {
            b: Slow(5.0, 120.0) for b in (False, True)
        }
        self._details: OrderedDict[str, Slow[tuple[dict[str, Any] | None, tuple[int, int]]]] = (
            OrderedDict()
        )

    def _rows(self) -> tuple[list[Person], set[str]]:
        exp = self.experiment.experiment_id
        key = summaries.participants_key(self.store, exp)
        rows = self._people.get(key, lambda: summaries.people(self.store, exp))
        who = {p.participant_id for p in rows if not (p.bot or p.excluded or p.reset)}
        return rows, who

    def _overview(self, live: Live) -> dict[str, Any]:
        rows, who = self._rows()
        exp = self.experiment.experiment_id
        times = self._scene_times.get(
            (live.events_seen, len(who)), lambda: summaries.scene_times(self.store, exp, who)
        )
        return overview(rows, self.experiment, live, times)

    async def overview(self) -> dict[str, Any]:
        return await asyncio.to_thread(self._overview, self.monitor.live())

    async def games(self) -> dict[str, Any]:
        live = self.monitor.live()
        samples = self.monitor.games()
        playing = {g.owner_id for g in samples}
        rest = {
            "rooms": rooms_now(self.rooms),
            "groups": groups_now(self.groups, self.monitor, playing),
            "errors": self.monitor.recent_errors(),
        }
        return await asyncio.to_thread(games, samples, self.experiment, live, **rest)

    async def participants(
        self,
        *,
        q: str | None = None,
        status: str | None = None,
        condition: str | None = None,
        bots: str = "include",
        excluded: str = "include",
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """A page of participants (newest first) with their live state."""
        for name, value in (("bots", bots), ("excluded", excluded)):
            if value not in FILTERS:
                raise ValueError(f"{name}: expected one of {', '.join(FILTERS)}, got {value!r:.40}")
        found = await asyncio.to_thread(
            summaries.search, self.store, self.experiment.experiment_id, q=q, status=status,
            condition=condition, bots=bots, excluded=excluded,
        )  # fmt: skip
        rows = found[offset : offset + limit]
        for row in rows:
            owner = self.monitor.owner(row["participant_id"])
            row["connected"] = bool(owner and owner["connected"])
            row["pending_records"] = owner["pending_records"] if owner else None
            row["last_seen_s"] = owner["last_seen_s"] if owner else None
        return {"total": len(found), "limit": limit, "offset": offset, "participants": rows}

    async def participant(self, participant_id: str) -> dict[str, Any] | None:
        """One participant's detail (``detail.py``), or None for an unknown id."""
        return (await self.participant_versioned(participant_id))[0]

    async def participant_versioned(self, participant_id: str) -> tuple[dict[str, Any] | None, Any]:
        """One participant's detail and the monitor version of them it shows (the database
        part is read again at most every half second, so it may be of an earlier one)."""
        live = self.monitor.owner(participant_id)
        version = self.monitor.owner_version(participant_id)
        slow = self._details.pop(participant_id, None) or Slow(0.5, 5.0)
        self._details[participant_id] = slow
        while len(self._details) > 64:
            self._details.popitem(last=False)

        def read() -> tuple[dict[str, Any] | None, tuple[int, int]]:
            found = detail.participant_detail(self.store, participant_id, live)
            return found, self._stored_counts(participant_id)  # read after: never counted twice

        (found, then), shown = await asyncio.to_thread(slow.get_keyed, version, read)
        if found is not None and live is not None:  # the live part is always fresh
            uploads = {**found["uploads"], **_live_uploads(live)}
            # What was stored since the database was read, as the monitor saw it.
            now = self._stored_counts(participant_id)
            if now[0] >= then[0] and now[1] >= then[1]:  # (forgotten when idle: counts restart)
                uploads["acked_records"] += now[0] - then[0]
                uploads["acked_chunks"] += now[1] - then[1]
            found = {**found, "live": live, "uploads": uploads}
        return found, shown

    def _stored_counts(self, owner_id: str) -> tuple[int, int]:
        """Records and chunks of the owner the monitor saw stored (since the server started)."""
        owner = self.monitor.owners.get(owner_id)
        return (0, 0) if owner is None else (owner.records, owner.chunks)

    async def records(
        self,
        participant_id: str,
        *,
        kind: str | None = None,
        limit: int = 100,
        before: str | None = None,
    ) -> dict[str, Any]:
        cursor = detail.parse_cursor(before)
        return await asyncio.to_thread(
            detail.participant_records, self.store, participant_id, kind=kind, limit=limit,
            before=cursor,
        )  # fmt: skip

    def _plots(self, live: Live, histograms: dict[str, Any], bots: bool) -> dict[str, Any]:
        rows, who = self._rows()
        if bots:  # a pilot run with bots: their data too (never excluded or reset ones)
            who |= {p.participant_id for p in rows if p.bot and not (p.excluded or p.reset)}
        exp = self.experiment.experiment_id
        returns = self._returns[bots].get(
            (live.episodes_seen, len(who)),
            lambda: summaries.episode_returns(self.store, exp, who),
        )
        key = summaries.participants_key(self.store, exp)
        surveys = self._surveys[bots].get(
            key,
            lambda: summaries.survey_answers(self.store, exp, who, self._text_questions()),
        )
        minutes = [
            round((p.completed_at - p.created_at).total_seconds() / 60, 2)
            for p in rows
            if p.participant_id in who and p.status == "completed" and p.completed_at is not None
        ]
        return {
            "episode_returns": returns,
            **histograms,
            "completion_minutes": minutes,
            "surveys": surveys,
        }

    def _text_questions(self) -> set[tuple[str, str]]:
        return {
            (scene.scene_id, q.question_id)
            for scene in self.experiment.scenes_by_id.values()
            for q in getattr(scene, "questions", ())
            if getattr(q, "kind", None) == "text"
        }

    async def plots(self, *, bots: bool = False) -> dict[str, Any]:
        """The plots' data, of people only (``bots=True``: of bots too, say in a pilot run)."""
        live = self.monitor.live()
        return await asyncio.to_thread(self._plots, live, self.monitor.histograms(), bots)


def _live_uploads(live: dict[str, Any]) -> dict[str, Any]:
    return {
        "pending_records": live.get("pending_records"),
        "connected": bool(live.get("connected")),
        "last_seen_s": live.get("last_seen_s"),
    }
