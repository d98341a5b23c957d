"""The group options of a GymScene: what happens when a member of a group game is away or leaves.

A group scene is a GymScene with two or more ``"human"`` agents; each member of a group (formed
by a :class:`~interactive_gym.study.waiting_room.WaitingRoom`) plays one of them. With
``runtime="server"`` the server runs the game, with ``runtime="browser"`` every member's worker
(``gym_netcode.py``); the seat rules that apply these options are ``server/seated_game.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from interactive_gym.study.end_scene import EndScene
from interactive_gym.study.errors import ResponseError, StudyError
from interactive_gym.study.options import check_number, describe
from interactive_gym.study.scene import StoredScene
from interactive_gym.study.waiting_room import StandIn

WHEN_MEMBER_AWAY = ("pause", "default_action")
#: How long a game waits for a dropped connection by default: alone, and with others waiting.
SOLO_RECONNECT_S = 30.0
GROUP_RECONNECT_S = 20.0
#: The event (recorded for every member) that shows a group game ended because a member left.
MEMBER_LEFT_EVENT = "member_left"

MemberLeave = str | StandIn | EndScene


class GroupOptions(NamedTuple):
    """The checked group options of one GymScene."""

    when_member_away: str
    on_member_leave: MemberLeave
    reconnect_s: float


def check_group_options(
    where: str,
    humans: Sequence[str],
    when_member_away: object,
    on_member_leave: object,
    reconnect_s: object,
) -> GroupOptions:
    """Check the group options against the scene's human agents (2+: a group game)."""
    group = len(humans) >= 2
    if when_member_away not in WHEN_MEMBER_AWAY:
        raise StudyError(
            where,
            "when_member_away must be 'pause' or 'default_action', "
            f"got {describe(when_member_away)}",
        )
    if on_member_leave != "end" and not isinstance(on_member_leave, StandIn | EndScene):
        raise StudyError(
            where,
            f"on_member_leave must be 'end', a StandIn or an EndScene, "
            f"got {describe(on_member_leave)}",
            'e.g. on_member_leave=StandIn({1: "random"})',
        )
    if not group:
        for name, value, default in [
            ("when_member_away", when_member_away, "pause"),
            ("on_member_leave", on_member_leave, "end"),
        ]:
            if value != default:
                raise StudyError(
                    where,
                    f"{name} applies to group games only (2 or more 'human' agents)",
                    f"leave {name} out of a game played by one participant",
                )
    if isinstance(on_member_leave, StandIn):
        others = [a for a in on_member_leave.agents if a not in humans]
        if others:
            raise StudyError(
                where,
                f"on_member_leave StandIn has agent {others[0]!r}, which is not a human agent "
                f"of this scene (human agents: {', '.join(map(repr, humans))})",
                "give stand-ins only for the human agents they replace",
            )
    if reconnect_s is None:
        seconds = GROUP_RECONNECT_S if group else SOLO_RECONNECT_S
    else:
        seconds = float(check_number(where, "reconnect_s", reconnect_s))
        if not 0 <= seconds <= 3600:
            raise StudyError(where, f"reconnect_s must be between 0 and 3600, got {reconnect_s}")
    leave: MemberLeave = (
        on_member_leave if isinstance(on_member_leave, StandIn | EndScene) else "end"
    )
    return GroupOptions(str(when_member_away), leave, seconds)


def merge_stand_ins(
    on_member_leave: MemberLeave, given: Mapping[str, Any] | None, seed: int, scene_id: str
) -> dict[str, Any]:
    """The stand-in specs of a group game: the scene's ``on_member_leave`` StandIn (built with
    the group's seed) updated with ``given`` (the waiting room's, for a group short of members)."""
    own = on_member_leave if isinstance(on_member_leave, StandIn) else None
    specs: dict[str, Any] = own.to_client(seed, scene_id) if own is not None else {}
    specs.update(given or {})
    return specs


def check_group_ended(stored: StoredScene) -> None:
    """A group game that ended early has the ``member_left`` event in the member's records."""
    if MEMBER_LEFT_EVENT not in stored.event_types:
        raise ResponseError(
            "status",
            "the group game ended because a member left, but no one's leaving was recorded",
        )
