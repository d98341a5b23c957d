"""Experiment: a study's scenes, ordering and conditions, checked as a whole when it is built."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from interactive_gym.study.end_scene import EndScene
from interactive_gym.study.errors import StudyError
from interactive_gym.study.groups_check import check_groups
from interactive_gym.study.gym import GymScene
from interactive_gym.study.options import (
    check_bool,
    check_id,
    check_int,
    check_str,
    describe,
    keyword_options,
    reject_unknown,
)
from interactive_gym.study.ordering import Block, Conditions, RandomizeOrder, flatten
from interactive_gym.study.scene import ParticipantContext, Scene
from interactive_gym.study.seeds import group_seed, participant_seed
from interactive_gym.study.waiting_room import WaitingRoom

#: URL parameters that name the participant by default: Prolific's and MTurk's.
DEFAULT_ID_PARAMS = ("PROLIFIC_PID", "workerId")

Item = Scene | RandomizeOrder | Conditions


class ParticipantLike(Protocol):
    """The fields of a stored participant a study needs (``interactive_gym.data.Participant``)."""

    @property
    def participant_id(self) -> str: ...
    @property
    def experiment_id(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def condition(self) -> str | None: ...
    @property
    def url_params(self) -> Mapping[str, str]: ...


def _caller_dir(depth: int) -> Path:
    """The folder of the file that called the constructor (the study file), else the cwd."""
    filename = sys._getframe(depth + 1).f_globals.get("__file__")
    return Path(filename).resolve().parent if filename else Path.cwd()


class Experiment:
    """A study: what participants see, in which order, under which condition.

    Args:
        experiment_id: the study's id, stored with every participant.
        scenes: the scenes in order: scene objects, ``RandomizeOrder`` blocks, and at most one
            ``Conditions`` block. The last one must be an ``EndScene``. Group scenes (GymScenes
            with several human agents) need a ``WaitingRoom`` before them (see groups_check.py).
        seed: the experiment seed; every participant's seed (scene order, episode seeds)
            derives from it and their id. Completion codes never do (see EndScene).
        participant_id_param: the URL parameter(s) holding the participant id (the first one
            present is used); without one the id is generated. None: always generated.
        title: the browser tab's title.
        allow_device_change: whether a participant named by the URL (``PROLIFIC_PID``, ...)
            may continue in another browser or on another device. Off by default: the id in
            a link is no secret, so the study stays with the browser that started it and a
            visit from elsewhere is told so (release a participant who really moved with
            ``python -m interactive_gym.participants release``). When on, the new browser
            takes the study over and the old one stops.
        python_snapshots: whether a participant's browser keeps a memory snapshot of the game
            scenes' Python (Pyodide with the scene's packages and the runtime) and restores it
            on their next load (a reload, a later visit) instead of booting Python again: ready
            in under a second instead of a few. Each snapshot takes about 16 MB of the
            browser's storage for this site, at most three are kept, and any problem with one
            falls back to a normal boot. On by default; False boots every time.
        base_dir: folder that relative file paths (``html_file``, ...) start from; default: the
            folder of the file that builds the Experiment.
    """

    def __init__(
        self,
        experiment_id: str,
        scenes: Sequence[Item],
        *,
        seed: int = 0,
        participant_id_param: str | Sequence[str] | None = DEFAULT_ID_PARAMS,
        title: str = "Study",
        allow_device_change: bool = False,
        python_snapshots: bool = True,
        base_dir: str | Path | None = None,
        **unknown: object,
    ) -> None:
        self.experiment_id = check_id("Experiment", "experiment_id", experiment_id)
        where = f"Experiment({experiment_id!r})"
        reject_unknown(where, unknown, keyword_options(Experiment.__init__))
        self.seed: int = check_int(where, "seed", seed, minimum=0)
        self.title: str = check_str(where, "title", title)
        self.allow_device_change = check_bool(where, "allow_device_change", allow_device_change)
        self.python_snapshots = check_bool(where, "python_snapshots", python_snapshots)
        self.participant_id_params = self._id_params(where, participant_id_param)
        if base_dir is not None and not isinstance(base_dir, str | Path):
            raise StudyError(where, f"base_dir must be a folder path, got {describe(base_dir)}")
        self.base_dir = Path(base_dir) if base_dir is not None else _caller_dir(1)
        self.items = self._check_items(where, scenes)
        self.conditions = next((i for i in self.items if isinstance(i, Conditions)), None)
        self.scenes_by_id = self._check_ids(where)
        groups = check_groups(self.items, self.end_scene, self.scenes_by_id)
        #: Every WaitingRoom by id; the room whose groups play a group scene: :meth:`room_of`.
        self.rooms: dict[str, WaitingRoom] = groups.rooms
        self._room_of = groups.room_of
        #: With ``Conditions(per="group")``: the room whose groups are assigned a condition.
        self.group_conditions_room = groups.conditions_room
        #: Every EndScene a participant can end at (the last scene, on_timeout and
        #: on_member_leave ones), by id; also in ``scenes_by_id``.
        self.end_scenes = groups.end_scenes
        for scene in self.scenes_by_id.values():
            scene.load_files(self.base_dir)
            if isinstance(scene, GymScene):
                scene.python_snapshots = self.python_snapshots

    # checks -------------------------------------------------------------------------------

    @staticmethod
    def _id_params(where: str, value: object) -> tuple[str, ...]:
        if value is None:
            return ()
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) and n for n in names):
            raise StudyError(
                where,
                f"participant_id_param must be a URL parameter name, a list of them or None, "
                f"got {describe(value)}",
                'e.g. participant_id_param="PROLIFIC_PID"',
            )
        return tuple(names)

    @staticmethod
    def _check_items(where: str, scenes: object) -> list[Item]:
        if not isinstance(scenes, list | tuple) or not scenes:
            raise StudyError(where, f"scenes must be a non-empty list, got {describe(scenes)}")
        for i, item in enumerate(scenes):
            if not isinstance(item, Scene | RandomizeOrder | Conditions):
                raise StudyError(
                    where,
                    f"scenes[{i}] is a {describe(item)}, not a scene",
                    "list scenes (StaticScene, SurveyScene, EndScene, ...), RandomizeOrder or "
                    "Conditions blocks",
                )
        if sum(isinstance(i, Conditions) for i in scenes) > 1:
            raise StudyError(
                where,
                "scenes holds more than one Conditions block",
                "use one Conditions block; cross factors by naming conditions like 'a_x', 'a_y'",
            )
        if not isinstance(scenes[-1], EndScene):
            raise StudyError(
                where,
                f"the last scene is {describe(scenes[-1])}, not an EndScene",
                "end the study with EndScene(...), which shows the completion code",
            )
        return list(scenes)

    def _walk(self) -> Iterator[tuple[Scene, str, str | None]]:
        """Every scene with its location in the definition and its condition (None: shared)."""

        def blocks(items: Sequence[Block], prefix: str, condition: str | None) -> Iterator:
            for j, block in enumerate(items):
                if isinstance(block, RandomizeOrder):
                    yield from blocks(block.scenes, f"{prefix}[{j}].scenes", condition)
                else:
                    yield block, f"{prefix}[{j}]", condition

        for i, item in enumerate(self.items):
            if isinstance(item, Conditions):
                for name, items in item.conditions.items():
                    yield from blocks(items, f"scenes[{i}][{name!r}]", name)
            elif isinstance(item, RandomizeOrder):
                yield from blocks(item.scenes, f"scenes[{i}].scenes", None)
            else:
                yield item, f"scenes[{i}]", None

    def _check_ids(self, where: str) -> dict[str, Scene]:
        by_id: dict[str, Scene] = {}
        seen: dict[int, tuple[str, str | None]] = {}
        last = len(self.items) - 1
        for scene, location, condition in self._walk():
            if isinstance(scene, EndScene) and location != f"scenes[{last}]":
                raise StudyError(
                    where,
                    f"{location} is an EndScene before the end of the study",
                    "keep one EndScene, as the last scene",
                )
            other = by_id.setdefault(scene.scene_id, scene)
            if other is not scene:
                raise StudyError(
                    where,
                    f"scene id {scene.scene_id!r} is used twice ({other!r} and {scene!r} at "
                    f"{location})",
                    "give every scene its own scene_id",
                )
            if id(scene) in seen:
                first, first_condition = seen[id(scene)]
                if None in (condition, first_condition) or condition == first_condition:
                    raise StudyError(
                        where,
                        f"{scene!r} appears twice in one participant's path ({first} and "
                        f"{location})",
                        "make a second scene with its own scene_id",
                    )
            seen[id(scene)] = (location, condition)
        return by_id

    # per participant ----------------------------------------------------------------------

    @property
    def condition_names(self) -> list[str]:
        return self.conditions.names if self.conditions else []

    def assign_condition(self, counts: Mapping[str, int]) -> str | None:
        """The condition for a new participant given the counts so far (None: no conditions)."""
        return self.conditions.assign(counts) if self.conditions else None

    def participant_seed(self, participant_id: str) -> int:
        return participant_seed(self.seed, participant_id)

    def group_seed(self, group_id: str) -> int:
        return group_seed(self.seed, group_id)

    def scene_order(self, participant_id: str, condition: str | None) -> list[str]:
        """The scene ids a participant sees, in order (randomized blocks resolved)."""
        seed = self.participant_seed(participant_id)
        known: Sequence[str | None] = self.condition_names or [None]
        if condition not in known:
            raise KeyError(f"{self.experiment_id}: unknown condition {condition!r}")
        scenes: list[Scene] = []
        for i, item in enumerate(self.items):
            if isinstance(item, Conditions):
                assert condition is not None  # one of condition_names: checked above
                scenes += flatten(item.conditions[condition], seed, f"scenes.{i}.{condition}")
            else:
                scenes += flatten([item], seed, f"scenes.{i}")
        return [scene.scene_id for scene in scenes]

    def path_before_conditions(self, participant_id: str) -> list[str]:
        """The scene ids a participant sees before the ``Conditions`` block (all: none).

        A participant is assigned a condition only on reaching the block, so that nobody can
        learn or steer their condition by starting the study and leaving.
        """
        if self.conditions is None:
            return self.scene_order(participant_id, None)
        seed = self.participant_seed(participant_id)
        scenes: list[Scene] = []
        for i, item in enumerate(self.items):
            if isinstance(item, Conditions):
                break
            scenes += flatten([item], seed, f"scenes.{i}")
        return [scene.scene_id for scene in scenes]

    def context(self, participant: ParticipantLike) -> ParticipantContext:
        return ParticipantContext(
            participant_id=participant.participant_id,
            experiment_id=self.experiment_id,
            seed=participant.seed,
            condition=participant.condition,
            url_params=dict(participant.url_params),
        )

    def scene(self, scene_id: str) -> Scene:
        return self.scenes_by_id[scene_id]

    def room_of(self, scene_id: str) -> WaitingRoom | None:
        """The WaitingRoom whose groups play group scene ``scene_id`` (None: not a group scene)."""
        room_id = self._room_of.get(scene_id)
        return self.rooms[room_id] if room_id is not None else None

    @property
    def end_scene(self) -> EndScene:
        """The study's last scene, the EndScene of participants who finish it."""
        end = self.items[-1]
        assert isinstance(end, EndScene)
        return end

    def _end(self, end_id: str | None) -> EndScene:
        if end_id is None:
            return self.end_scene
        if end_id not in self.end_scenes:
            raise KeyError(f"{self.experiment_id}: no EndScene {end_id!r}")
        return self.end_scenes[end_id]

    def completion_code(
        self, participant: ParticipantLike, key: bytes, end_id: str | None = None
    ) -> str:
        """The code a participant gets on completing at EndScene ``end_id`` (None: the last
        scene's); generated codes are keyed with ``key``."""
        return self._end(end_id).code_for(self.context(participant), key)

    def completion(
        self,
        participant: ParticipantLike,
        key: bytes,
        code: str | None = None,
        end_id: str | None = None,
    ) -> dict[str, Any]:
        """The completion code and filled redirect URL of a participant (see EndScene).

        ``code``: the code stored when they completed; None: the one they get
        (:meth:`completion_code`). ``end_id``: the EndScene they completed at (None: the last).
        """
        code = code or self.completion_code(participant, key, end_id)
        return self._end(end_id).completion(self.context(participant), code)

    def describe(self) -> dict[str, Any]:
        """A summary for logs: id, scene ids and conditions."""
        return {
            "experiment_id": self.experiment_id,
            "scenes": list(self.scenes_by_id),
            "conditions": self.condition_names,
        }
