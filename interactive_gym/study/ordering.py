"""Per-participant ordering (RandomizeOrder) and between-subject conditions (Conditions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Union

from interactive_gym.study.errors import StudyError
from interactive_gym.study.options import check_id, check_int, describe
from interactive_gym.study.scene import Scene
from interactive_gym.study.seeds import derive_seed, shuffled

#: Who a Conditions block assigns: each participant, or each group (all its members alike).
PER = ("participant", "group")
#: What may stand in a RandomizeOrder or a condition: scenes, or nested randomized blocks.
Block = Union[Scene, "RandomizeOrder"]


def check_blocks(where: str, field: str, items: object) -> list[Block]:
    """A non-empty list of scenes and RandomizeOrder blocks."""
    if not isinstance(items, list | tuple) or not items:
        raise StudyError(
            where, f"{field} must be a non-empty list of scenes, got {describe(items)}"
        )
    for i, item in enumerate(items):
        if isinstance(item, Conditions):
            raise StudyError(
                where,
                f"{field}[{i}] is a Conditions block inside another block",
                "put Conditions directly in Experiment(scenes=[...])",
            )
        if not isinstance(item, Scene | RandomizeOrder):
            raise StudyError(
                where,
                f"{field}[{i}] is a {describe(item)}, not a scene",
                "list scenes (StaticScene, SurveyScene, ...) or RandomizeOrder blocks",
            )
    return list(items)


class RandomizeOrder:
    """Scenes shown in an order drawn per participant; with ``keep_n``, only the first n of it.

    The order is reproducible: it derives from the participant's seed (itself derived from the
    experiment seed and participant id) and the block's position in the study. A nested
    RandomizeOrder moves as one unit and is shuffled inside.

    Args:
        scenes: the scenes (or nested RandomizeOrder blocks) to order.
        keep_n: show only this many of them (a random subset), or all when None.
    """

    def __init__(self, scenes: Sequence[Block], keep_n: int | None = None) -> None:
        self.scenes = check_blocks("RandomizeOrder", "scenes", scenes)
        self.keep_n = check_int(
            "RandomizeOrder", "keep_n", keep_n, minimum=1, maximum=len(self.scenes), optional=True
        )

    def resolve(self, seed: int, path: str) -> list[Scene]:
        """The scenes for a participant with ``seed``; ``path`` names the block's position."""
        order = shuffled(range(len(self.scenes)), derive_seed(seed, "order", path))
        if self.keep_n is not None:
            order = order[: self.keep_n]
        return flatten([self.scenes[i] for i in order], seed, path)

    def __repr__(self) -> str:
        return f"RandomizeOrder({self.scenes!r}, keep_n={self.keep_n!r})"


def flatten(blocks: Sequence[Block], seed: int, path: str) -> list[Scene]:
    """Resolve nested RandomizeOrder blocks into a plain list of scenes."""
    scenes: list[Scene] = []
    for i, block in enumerate(blocks):
        if isinstance(block, RandomizeOrder):
            scenes += block.resolve(seed, f"{path}.{i}")
        else:
            scenes.append(block)
    return scenes


def all_scenes(blocks: Sequence[Block]) -> list[Scene]:
    """Every scene a block list can show, in declaration order."""
    scenes: list[Scene] = []
    for block in blocks:
        scenes += all_scenes(block.scenes) if isinstance(block, RandomizeOrder) else [block]
    return scenes


class Conditions:
    """Between-subject conditions: each participant sees the scenes of one condition.

    Participants are assigned when they arrive, balanced: the condition with the fewest
    participants so far (completed and in progress) comes next, ties in the order given here.
    The condition is recorded with the participant.

    Args:
        conditions: condition name -> the scenes of that condition, e.g.
            ``Conditions({"solo": [...], "team": [...]})``.
        per: ``"participant"`` (each participant is assigned on reaching the block) or
            ``"group"`` (each group formed by the WaitingRoom before the block is assigned,
            balanced over groups, and all its members see that condition; the block must come
            after a top-level WaitingRoom).
    """

    def __init__(
        self, conditions: Mapping[str, Sequence[Block]], *, per: str = "participant"
    ) -> None:
        if not isinstance(conditions, Mapping) or len(conditions) < 2:
            raise StudyError(
                "Conditions",
                f"expected a dict of at least two named conditions, got {describe(conditions)}",
                'e.g. Conditions({"solo": [...], "team": [...]})',
            )
        self.conditions: dict[str, list[Block]] = {}
        for name, blocks in conditions.items():
            check_id("Conditions", "condition name", name)
            self.conditions[name] = check_blocks(f"Conditions[{name!r}]", "scenes", blocks)
        if per not in PER:
            raise StudyError(
                "Conditions", f"per must be 'participant' or 'group', got {describe(per)}"
            )
        self.per = per

    @property
    def names(self) -> list[str]:
        return list(self.conditions)

    def assign(self, counts: Mapping[str, int]) -> str:
        """The least-filled condition given participants per condition (ties: first listed)."""
        return min(self.names, key=lambda name: (counts.get(name, 0), self.names.index(name)))

    def __repr__(self) -> str:
        return f"Conditions({self.conditions!r}, per={self.per!r})"
