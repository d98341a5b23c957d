"""The groups of a study, checked as a whole: which WaitingRoom forms the groups of which scenes.

A group scene (a GymScene with 2+ human agents) is played by the group formed at the last
WaitingRoom before it; a room's block is every scene after it up to the next room (or the end),
followed into the Conditions block. Called by ``experiment.py`` once the scene ids are known;
the server (``server/groups.py``, ``server/flow.py``) relies on what is checked here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from interactive_gym.study.end_scene import EndScene
from interactive_gym.study.errors import StudyError
from interactive_gym.study.gym import GymScene
from interactive_gym.study.ordering import Block, Conditions, RandomizeOrder, all_scenes
from interactive_gym.study.scene import Scene
from interactive_gym.study.waiting_room import WaitingRoom

Item = Scene | RandomizeOrder | Conditions


@dataclass
class GroupLayout:
    """What the check found: the rooms, the room of each group scene, the extra EndScenes."""

    rooms: dict[str, WaitingRoom] = field(default_factory=dict)
    #: group scene id -> id of the room whose groups play it.
    room_of: dict[str, str] = field(default_factory=dict)
    #: with ``Conditions(per="group")``: the room whose groups are assigned a condition.
    conditions_room: str | None = None
    #: every EndScene a participant can end at, by id: the study's last one first.
    end_scenes: dict[str, EndScene] = field(default_factory=dict)


def _humans(scene: GymScene) -> str:
    return ", ".join(repr(h) for h in scene.humans)


def _in(condition: str | None) -> str:
    return f" (in condition {condition!r})" if condition is not None else ""


def _check_placement(blocks: Sequence[Block], randomized: bool) -> None:
    """No WaitingRoom, and no group scene, inside a RandomizeOrder."""
    for block in blocks:
        if isinstance(block, RandomizeOrder):
            _check_placement(block.scenes, True)
        elif randomized and isinstance(block, WaitingRoom):
            raise StudyError(
                block.where,
                "is inside a RandomizeOrder",
                "put a WaitingRoom directly in scenes=[...] or in a condition's list",
            )
        elif randomized and isinstance(block, GymScene) and block.is_group:
            raise StudyError(
                block.where,
                "is a group scene inside a RandomizeOrder: the members of a group would play "
                "the group scenes in different orders",
                "put group scenes directly in scenes=[...] or in a condition's list",
            )


def _paths(items: Sequence[Item]) -> Iterator[tuple[str | None, list[Scene]]]:
    """Each condition's scenes in declaration order (one path without Conditions)."""
    conditions = next((i for i in items if isinstance(i, Conditions)), None)
    for name in conditions.names if conditions else [None]:
        scenes: list[Scene] = []
        for item in items:
            if isinstance(item, Conditions):
                assert name is not None
                scenes += all_scenes(item.conditions[name])
            else:
                scenes += all_scenes([item])
        yield name, scenes


def _blocks(
    items: Sequence[Item], layout: GroupLayout
) -> dict[str, dict[str | None, list[GymScene]]]:
    """room id -> condition -> the group scenes of its block on that path."""
    blocks: dict[str, dict[str | None, list[GymScene]]] = {}

    def close(room: WaitingRoom | None, condition: str | None, after: str) -> None:
        if room is not None and not blocks[room.scene_id][condition]:
            raise StudyError(
                room.where,
                f"is followed by no group scene before {after}{_in(condition)}",
                "a WaitingRoom forms groups for the group scenes after it (GymScenes with 2 or "
                "more 'human' agents); remove it or add its group scenes",
            )

    for condition, scenes in _paths(items):
        room: WaitingRoom | None = None
        for scene in scenes:
            if isinstance(scene, WaitingRoom):
                close(room, condition, scene.where)
                room = layout.rooms.setdefault(scene.scene_id, scene)
                blocks.setdefault(room.scene_id, {})[condition] = []
            elif isinstance(scene, GymScene) and scene.is_group:
                if room is None:
                    raise StudyError(
                        scene.where,
                        f"is a group scene (human agents {_humans(scene)}) with no WaitingRoom "
                        f"before it{_in(condition)}",
                        'put a WaitingRoom("lobby") before it, to form the groups that play it',
                    )
                first = layout.room_of.setdefault(scene.scene_id, room.scene_id)
                if first != room.scene_id:
                    raise StudyError(
                        scene.where,
                        f"is reached after two different waiting rooms ({first!r} and "
                        f"{room.scene_id!r}{_in(condition)})",
                        "give each waiting room its own group scenes (another GymScene with "
                        "its own scene_id)",
                    )
                blocks[room.scene_id][condition].append(scene)
        close(room, condition, "the end of the study")
    return blocks


def _fill_room(
    room: WaitingRoom, paths: Mapping[str | None, list[GymScene]], shared_condition: bool
) -> None:
    """Check one room's group scenes and fill in its group_scenes, humans and group_size."""
    scenes: list[GymScene] = []
    for path in paths.values():
        scenes += [s for s in path if s not in scenes]
    if not shared_condition:
        orders = {c: [s.scene_id for s in path] for c, path in paths.items()}
        (c1, o1), *rest = orders.items()
        for c2, o2 in rest:
            if o2 != o1:
                raise StudyError(
                    room.where,
                    f"its groups play {o1} in condition {c1!r} but {o2} in condition {c2!r}, "
                    "and the members of one group may have different conditions",
                    'use Conditions(..., per="group") so a group shares its condition, or put '
                    "a WaitingRoom inside each condition",
                )
    first = scenes[0]
    size = room.given_group_size or len(first.humans)
    source = "given" if room.given_group_size else f"from {first.where}"
    for scene in scenes:
        if len(scene.humans) != size:
            raise StudyError(
                room.where,
                f"group_size is {size} ({source}), but {scene.where} has {len(scene.humans)} "
                f"human agents ({_humans(scene)})",
                "every group scene after a waiting room is played by the whole group: give it "
                f"{size} human agents, or put another WaitingRoom before it",
            )
        if scene.humans != first.humans:
            raise StudyError(
                room.where,
                f"{scene.where} has human agents {_humans(scene)}, but {first.where} has "
                f"{_humans(first)}",
                "give the human agents of every group scene after one waiting room the same ids",
            )
    room.group_scenes = [s.scene_id for s in scenes]
    room.humans = list(first.humans)
    room.group_size = size
    stand_in = room.stand_in
    if stand_in is not None:
        for agent in stand_in.agents:
            if agent not in room.humans:
                raise StudyError(
                    room.where,
                    f"on_timeout StandIn has agent {agent!r}, which is not a human agent of its "
                    f"group scenes (human agents: {_humans(first)})",
                    "give stand-ins only for the human agents they replace",
                )
        missing = ", ".join(repr(h) for h in room.humans if h not in stand_in.agents)
        if len(room.humans) - len(stand_in.agents) > 1:
            raise StudyError(
                room.where,
                f"on_timeout StandIn has no policy for human agents {missing} of {first.where}",
                "a participant who waited in vain plays one human agent: give a stand-in for "
                "every other one",
            )


def _conditions_room(items: Sequence[Item]) -> str | None:
    """With ``Conditions(per="group")``: the last top-level WaitingRoom before the block."""
    room: str | None = None
    for item in items:
        if isinstance(item, WaitingRoom):
            room = item.scene_id
        elif isinstance(item, Conditions):
            if item.per != "group":
                return None
            if room is None:
                raise StudyError(
                    "Conditions(per='group')",
                    "has no WaitingRoom before it at the top level of scenes",
                    "put a WaitingRoom before the Conditions block: each group it forms is "
                    "assigned one condition",
                )
            return room
    return None


def _end_scenes(last: EndScene, by_id: dict[str, Scene], layout: GroupLayout) -> None:
    """Register the EndScenes of ``on_timeout`` and ``on_member_leave`` beside the last one."""
    layout.end_scenes[last.scene_id] = last
    for scene in list(by_id.values()):
        if isinstance(scene, WaitingRoom):
            end, option = scene.end_scene, "on_timeout"
        elif isinstance(scene, GymScene) and isinstance(scene.on_member_leave, EndScene):
            end, option = scene.on_member_leave, "on_member_leave"
        else:
            continue
        if end is None:
            continue
        other = by_id.setdefault(end.scene_id, end)
        if other is not end:
            raise StudyError(
                scene.where,
                f"{option} {end!r} has the scene id of {other!r}",
                f'give it its own scene_id, e.g. EndScene("{option}_{scene.scene_id}", ...)',
            )
        layout.end_scenes[end.scene_id] = end


def check_groups(items: Sequence[Item], last: EndScene, by_id: dict[str, Scene]) -> GroupLayout:
    """Check the rooms and group scenes of a study; adds the extra EndScenes to ``by_id``."""
    for item in items:
        if isinstance(item, Conditions):
            for blocks in item.conditions.values():
                _check_placement(blocks, False)
        else:
            _check_placement([item], False)
    layout = GroupLayout()
    layout.conditions_room = _conditions_room(items)
    for room_id, paths in _blocks(items, layout).items():
        _fill_room(layout.rooms[room_id], paths, room_id == layout.conditions_room)
    _end_scenes(last, by_id, layout)
    return layout
