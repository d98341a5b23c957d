"""Where a participant goes after a waiting room or a group game: the flow's group rules.

``flow.py`` asks :class:`GroupRoutes` when a participant finishes a scene:

- a ``WaitingRoom`` can only be left with the room's answer (matched, timed out, not present:
  ``waiting_rooms.py`` decides it; the page's response must agree). A timed-out participant
  goes on by the room's ``on_timeout``: ``"skip"`` (the group scenes are skipped), a
  ``StandIn`` (they play the group scenes with AI partners: the room formed a group of one), or
  an ``EndScene`` (their path ends there, with that scene's completion code);
- a group scene whose game ended because a member left sends the remaining members on by the
  scene's ``on_member_leave``: to its ``EndScene`` if it is one, else to the next scene;
- a group scene the participant has no group for (timed out with ``"skip"``, or they left
  the group earlier), or that their group cannot play because a member left and the scene has
  no stand-in for them, is skipped; each skip is an event record ``scene_skipped`` {reason}.

The group records of a group scene belong to the group (owner: the group id), so
:meth:`GroupRoutes.owner_of` tells the flow whose records show the scene was played. The
groups themselves: ``groups.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, TypeGuard

from interactive_gym.server.refusals import Refused
from interactive_gym.server.seated_game import GroupLike, stand_in_agents
from interactive_gym.study import EndScene, Experiment, GymScene
from interactive_gym.study.scene import Scene
from interactive_gym.study.waiting_room import WaitingRoom


class OutcomeLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def group_id(self) -> str | None: ...


class GroupDirectory(Protocol):
    """What the flow needs of ``groups.Groups``."""

    async def outcome(self, participant_id: str, room_id: str) -> OutcomeLike | None: ...
    async def group_for(self, participant_id: str, scene_id: str) -> GroupLike | None: ...


@dataclass
class Route:
    """Where a participant goes from scene ``index``: ``next_index`` of ``scene_order``
    (a new order when the path ends at another EndScene), and the records to store with it."""

    next_index: int
    scene_order: list[str] | None = None
    records: list[dict[str, Any]] = field(default_factory=list)


def is_group_scene(scene: Scene) -> TypeGuard[GymScene]:
    return isinstance(scene, GymScene) and scene.is_group


def playable(group: GroupLike, scene: GymScene) -> bool:
    """Whether the group can play ``scene`` after members left: only when the scene's
    ``on_member_leave`` StandIn covers every agent of a member who left."""
    covered = stand_in_agents(scene.on_member_leave)
    return all(m.agent_id in covered for m in group.members if m.participant_id in group.left)


class GroupRoutes:
    """The group rules of the flow for one experiment."""

    def __init__(self, experiment: Experiment, groups: GroupDirectory) -> None:
        self.experiment = experiment
        self.groups = groups

    async def owner_of(self, participant_id: str, scene_id: str) -> str:
        """Whose records show that ``scene_id`` was played: the group's, for a group scene."""
        scene = self.experiment.scenes_by_id.get(scene_id)
        if scene is None or not is_group_scene(scene):
            return participant_id
        group = await self.groups.group_for(participant_id, scene_id)
        return group.group_id if group is not None else participant_id

    async def route(
        self, participant_id: str, order: list[str], index: int, response: dict[str, Any]
    ) -> Route:
        """Where to go after finishing ``order[index]`` (whose checked response is given)."""
        scene = self.experiment.scene(order[index])
        if isinstance(scene, WaitingRoom):
            end = await self._after_room(participant_id, scene, response)
        elif is_group_scene(scene):
            end = await self._after_group_scene(participant_id, scene)
        else:
            end = None
        if end is not None:
            new_order = [*order[: index + 1], end.scene_id]
            return Route(index + 1, new_order if new_order != order else None)
        return await self._skip_from(participant_id, order, index + 1)

    async def _after_room(
        self, participant_id: str, room: WaitingRoom, response: dict[str, Any]
    ) -> EndScene | None:
        outcome = await self.groups.outcome(participant_id, room.scene_id)
        if outcome is None:
            raise Refused(f"{room.scene_id}: still waiting for a group; wait for the room's answer")
        told = response.get("outcome")
        if told != outcome.kind and not (told == "timeout" and outcome.kind == "stand_in"):
            raise Refused(f"response.outcome: the room's answer was {outcome.kind!r}, not {told!r}")
        if outcome.kind in ("matched", "stand_in"):
            return None
        if isinstance(room.on_timeout, EndScene):
            return room.on_timeout
        return None  # "skip" (a StandIn forms a group of one: outcome "stand_in")

    async def _after_group_scene(self, participant_id: str, scene: GymScene) -> EndScene | None:
        group = await self.groups.group_for(participant_id, scene.scene_id)
        if group is None or participant_id in group.left:
            return None
        ended = group.scenes.get(scene.scene_id)
        if ended == "member_left" and isinstance(scene.on_member_leave, EndScene):
            return scene.on_member_leave
        return None

    async def _skip_from(self, participant_id: str, order: list[str], index: int) -> Route:
        records: list[dict[str, Any]] = []
        while index < len(order) - 1:
            scene = self.experiment.scene(order[index])
            if not is_group_scene(scene):
                break
            group = await self.groups.group_for(participant_id, scene.scene_id)
            if group is None:
                reason = "no_group"
            elif participant_id in group.left:
                reason = "left_group"
            elif not playable(group, scene):
                reason = "member_left"
            else:
                break
            records.append(
                {
                    "kind": "event",
                    "scene_id": scene.scene_id,
                    "data": {"type": "scene_skipped", "reason": reason},
                }  # fmt: skip
            )
            index += 1
        return Route(index, None, records)
