"""Choosing a waiting room's next group: the first by arrival, or the researcher's matcher.

The other half is ``waiting_rooms.py``: it keeps the participants waiting (their presence and
timeouts, the socket events) and asks :meth:`RoomMatching.choose` for a group whenever one may
form; it then forms the group chosen (roles in ``groups.role_order``). Without a ``matcher`` the
group is the first ``group_size`` present participants by arrival. A matcher is the
researcher's code, so it is asked defensively: it sees every participant waiting (a
``WaitingParticipant`` each, present or not); if it raises, answers something other than
``group_size`` distinct ids of present participants, or None, no group forms this time; a slow
matcher is logged (it runs on the server's event loop). Each kind of problem is warned about
once per room (:meth:`RoomMatching.warn_once`, which the rooms use for their own warnings too).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from interactive_gym.server.limits import LogThrottle
from interactive_gym.study.waiting_room import WaitingParticipant, WaitingRoom

#: The waiting rooms' logger: these are their warnings.
log = logging.getLogger("interactive_gym.waiting_rooms")

#: A matcher taking longer than this is logged (it holds up the server's event loop).
SLOW_MATCHER_S = 0.1


class Candidate(Protocol):
    """What matching needs of a waiting participant (``waiting_rooms.Waiter``)."""

    @property
    def participant_id(self) -> str: ...
    @property
    def arrived(self) -> float: ...
    @property
    def condition(self) -> str | None: ...
    @property
    def url_params(self) -> dict[str, str]: ...
    @property
    def present(self) -> bool: ...


W = TypeVar("W", bound=Candidate)


def group_size(room: WaitingRoom) -> int:
    """How many participants the room's groups have."""
    return room.group_size if room.group_size is not None else len(room.humans)


def check_answer(answer: object, waiting: Sequence[Candidate], size: int) -> tuple[str, str] | None:
    """What is wrong with a matcher's answer, as ``(word, text)`` (None: a group to form)."""
    if not isinstance(answer, Sequence) or isinstance(answer, str | bytes):
        return "type", "expected a list of participant ids or None"
    if not all(isinstance(pid, str) for pid in answer):
        return "ids", "expected participant ids (strings)"
    if len(answer) != size:
        return "size", f"{len(answer)} id(s) given; the room's groups have {size}"
    if len(set(answer)) != len(answer):
        return "repeated", "a participant is named twice"
    by_id = {w.participant_id: w for w in waiting}
    strangers = [pid for pid in answer if pid not in by_id]
    if strangers:
        return "unknown", f"{strangers[0]!r:.60} is not waiting in the room"
    absent = [pid for pid in answer if not by_id[pid].present]
    if absent:
        return "absent", f"{absent[0]!r:.60} is not present (disconnected or not answering)"
    return None


class RoomMatching:
    """Picks the rooms' groups and remembers which warnings each room has had."""

    def __init__(self, clock: Callable[[], float], throttle: LogThrottle) -> None:
        self.clock = clock
        self.throttle = throttle
        #: (room_id, word) warned about already
        self._warned: set[tuple[str, str]] = set()

    def choose(self, room: WaitingRoom, waiting: list[W], size: int) -> list[W] | None:
        """The next group from ``waiting`` (all in the room, by arrival); None: no group now
        (fewer than ``size`` present, or the matcher gave none)."""
        present = [w for w in waiting if w.present]
        if len(present) < size:
            return None
        return present[:size] if room.matcher is None else self.ask(room, waiting, size)

    def ask(self, room: WaitingRoom, waiting: list[W], size: int) -> list[W] | None:
        """The room's matcher's group (None: none, or a bad answer, which is logged)."""
        now = self.clock()
        seen = [
            WaitingParticipant(
                participant_id=w.participant_id,
                waited_s=round(now - w.arrived, 3),
                condition=w.condition,
                url_params=dict(w.url_params),
                present=w.present,
            )
            for w in waiting
        ]
        assert room.matcher is not None
        started = time.perf_counter()
        try:
            answer = room.matcher(seen)
        except Exception as exc:  # noqa: BLE001 - the researcher's code: the room goes on
            key = f"raised {type(exc).__name__}: {exc}"
            if (room.scene_id, key) not in self._warned:
                self._warned.add((room.scene_id, key))
                log.exception("%s: the matcher raised; no group formed this time", room.where)
            return None
        finally:
            took = time.perf_counter() - started
            if took > SLOW_MATCHER_S:
                self.throttle.log(log, "matcher", "%s: the matcher took %.0f ms (it runs on the "
                                  "server's event loop and holds everything up: keep it fast)",
                                  room.where, took * 1000)  # fmt: skip
        if answer is None:
            return None
        problem = check_answer(answer, waiting, size)
        if problem is not None:
            word, text = problem
            self.warn_once(room, word, "%s: the matcher's answer %.200r was ignored: %s",
                           room.where, answer, text)  # fmt: skip
            return None
        by_id = {w.participant_id: w for w in waiting}
        return [by_id[pid] for pid in answer]

    def warn_once(self, room: WaitingRoom, word: str, msg: str, *args: Any) -> None:
        """Log a warning, unless the room already had one of this ``word``."""
        if (room.scene_id, word) in self._warned:
            return
        self._warned.add((room.scene_id, word))
        log.warning(msg, *args)
