"""A participant's step and episode records, grouped by run, and the checks that need no env.

A *run* is one ``(episode, attempt)``: the steps and the summary one page load recorded of one
episode. Its records come as the store gives them (``kind``, ``scene_id``, ``episode``,
``attempt``, ``step``, ``data``); :func:`records_from_export` rebuilds that shape from the rows
of an export.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from interactive_gym.data.tables import DATA_MARKER, EPISODE_COLUMNS, STEP_COLUMNS, unescape_key
from interactive_gym.replay._values import (
    MISSING,
    add_returns,
    browser_value,
    first_difference,
    score_of,
    show,
)
from interactive_gym.study.gym import GymScene, ended_by
from interactive_gym.study.seeds import derive_seed

#: The fixed columns of the export's step and episode tables (interactive_gym.data.tables).
STEP_FIELDS = ("participant_id", "scene_id", "episode", "attempt", "step", "t")
EPISODE_FIELDS = ("participant_id", "scene_id", "episode", "attempt", "t")
#: How ``ended_by`` follows from the last step, when the page did not stop on an error.
ENDINGS = ("terminated", "max_steps", "truncated", "stopped", "error")
#: How a group's episode ends when a member left (before the env ended it).
GROUP_LEFT = "member_left"


@dataclass
class Run:
    """The records of one run of one episode: step records and episode summaries (``data``)."""

    episode: int
    attempt: int
    steps: list[Mapping[str, Any]] = field(default_factory=list)
    summaries: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> Mapping[str, Any] | None:
        return self.summaries[0] if self.summaries else None

    def step_data(self) -> list[Mapping[str, Any]]:
        """Each step's ``data`` in step order (once the numbering is known to be 0..n-1)."""
        ordered = sorted(self.steps, key=lambda r: r["step"])
        return [r["data"] if isinstance(r.get("data"), Mapping) else {} for r in ordered]


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def group(records: Iterable[Mapping[str, Any]], scene_id: str) -> dict[tuple[int, int], Run]:
    """The runs of one scene, keyed ``(episode, attempt)``.

    Records of other kinds or other scenes are left out, and so are records without a whole
    ``episode`` (the server refuses those from the browser); a missing ``attempt`` counts as 0,
    as the server stores it.
    """
    runs: dict[tuple[int, int], Run] = {}
    for record in records:
        kind = record.get("kind")
        if kind not in ("step", "episode"):
            continue
        if record.get("scene_id", scene_id) not in (scene_id, None):
            continue
        episode, attempt = record.get("episode"), record.get("attempt")
        attempt = 0 if attempt is None else attempt
        if not _whole(episode) or episode < 0 or not _whole(attempt):
            continue
        run = runs.setdefault((episode, attempt), Run(episode, attempt))
        if kind == "step":
            run.steps.append(record)
        else:
            data = record.get("data")
            run.summaries.append(data if isinstance(data, Mapping) else {})
    return runs


def records_from_export(
    steps: Iterable[Mapping[str, Any]], episodes: Iterable[Mapping[str, Any]] = ()
) -> list[dict[str, Any]]:
    """Records as the store holds them, from rows of the export's ``steps_<scene>`` and
    ``episodes`` tables (JSON Lines, where nested values stay nested).

    The record's fields go back to the record, the export's other fixed columns (the replay
    verdict) are left out, and every other column goes to ``data`` under the key the export
    named it after (:func:`~interactive_gym.data.tables.unescape_key`). A column the export
    filled with null because only other rows have it comes back as a null value.
    """

    def record(kind: str, row: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
        # group_id: the export's column of group games (the record's owner), not data
        columns = {**(STEP_COLUMNS if kind == "step" else EPISODE_COLUMNS), "group_id": ""}
        data = {
            unescape_key(key, columns, DATA_MARKER): value
            for key, value in row.items()
            if key not in columns
        }
        out = {k: row.get(k) for k in fields}
        out.update(kind=kind, data=data)
        if kind == "episode":
            out["step"] = None
        return out

    return [record("step", r, STEP_FIELDS) for r in steps] + [
        record("episode", r, EPISODE_FIELDS) for r in episodes
    ]


# -- checks on the records alone ------------------------------------------------------------


def expected_seed(scene: GymScene, episode: int, participant_seed: int | None) -> int | None:
    """The seed the scene gives an episode: its fixed ``seeds``, or the participant's derived."""
    if scene.seeds is not None:
        return scene.seeds[episode] if episode < len(scene.seeds) else None
    if participant_seed is None:
        return None
    return derive_seed(participant_seed, scene.scene_id, "episode", episode)


def numbering_problem(run: Run) -> str | None:
    """Steps must be numbered 0..n-1, each once."""
    recorded = [r.get("step") for r in run.steps]
    bad = next((s for s in recorded if not _whole(s) or s < 0), MISSING)
    if bad is not MISSING:
        return f"step {show(bad)} is not a step number"
    numbers = [s for s in recorded if _whole(s)]
    counts = Counter(numbers)
    for i in range(len(numbers)):
        if counts[i] == 0:
            return f"step {i} is missing (steps {min(numbers)} to {max(numbers)} are recorded)"
        if counts[i] > 1:
            return f"step {i} is recorded {counts[i]} times"
    return None


def seed_of(
    scene: GymScene, run: Run, participant_seed: int | None
) -> tuple[int | None, str | None]:
    """``(seed to reset with, problem)``: the summary's seed must be the one the scene gives."""
    expected = expected_seed(scene, run.episode, participant_seed)
    recorded = run.summary.get("seed") if run.summary else None
    if recorded is not None and (not _whole(recorded) or recorded < 0):
        return None, f"seed {show(recorded)} recorded, which is not a seed"
    if recorded is not None and expected is not None and recorded != expected:
        return None, (
            f"seed {recorded} recorded, but the scene gives episode {run.episode} seed {expected}"
        )
    return (expected if expected is not None else recorded), None


def control_labels(scene: GymScene) -> dict[str, Any]:
    """``{keys as recorded: action}``: the ``keys`` column names a control's keys like this."""
    return {
        "+".join("Space" if k == " " else k for k in c["keys"]): c["action"] for c in scene.controls
    }


def action_column(agent: str, multi_agent: bool) -> str:
    return f"action_{agent}" if multi_agent else "action"


class Controls:
    """What a human's recorded action may be: one the controls give (or ``default_action``),
    and the one the recorded keys give (``default_action`` when no key was down)."""

    def __init__(self, scene: GymScene) -> None:
        self.labels = control_labels(scene)
        self.allowed = [browser_value(a) for a in [*self.labels.values(), scene.default_action]]
        self.default = browser_value(scene.default_action)

    def action_problem(self, i: int, column: str, action: Any) -> str | None:
        if all(first_difference(action, a) is not None for a in self.allowed):
            return f"step {i}: {column} {show(action)} recorded, which no control gives"
        return None

    def keys_problem(
        self, i: int, column: str, action: Any, keys_column: str, keys: Any
    ) -> str | None:
        """Keys that are not text (not recorded) are not checked."""
        if not isinstance(keys, str):
            return None
        if keys and keys not in self.labels:
            return f"step {i}: {keys_column} {keys!r} recorded, which are not a control"
        wanted = browser_value(self.labels[keys]) if keys else self.default
        if first_difference(action, wanted) is not None:
            pressed = f"its {keys_column} {keys!r} give" if keys else "no key was down, which gives"
            return f"step {i}: {column} {show(action)} recorded, but {pressed} {show(wanted)}"
        return None


def human_problem(scene: GymScene, steps: list[Mapping[str, Any]]) -> str | None:
    """The human's action must be one the controls give, and the one its recorded keys give."""
    if scene.human is None:
        return None
    controls = Controls(scene)
    for i, data in enumerate(steps):
        column = "action" if "action" in data else action_column(scene.human, True)
        action = data.get(column, MISSING)
        problem = controls.action_problem(i, column, action)
        problem = problem or controls.keys_problem(i, column, action, "keys", data.get("keys"))
        if problem is not None:
            return problem
    return None


def recorded_reward(data: Mapping[str, Any], multi_agent: bool) -> Any:
    """A step's reward from its columns: ``reward``, or ``reward_<agent>`` for each agent."""
    if not multi_agent or "reward" in data:
        return data.get("reward")
    return {k[len("reward_") :]: v for k, v in data.items() if k.startswith("reward_")}


def looks_multi_agent(steps: list[Mapping[str, Any]]) -> bool:
    """Whether the steps were recorded by a multi-agent env (``action_<agent>`` columns)."""
    return bool(steps) and "action" not in steps[0]


def summary_problem(
    scene: GymScene,
    run: Run,
    steps: list[Mapping[str, Any]],
    multi_agent: bool,
    last_reply: Mapping[str, Any] | None,
    replayed: bool,
    group: bool = False,
) -> str | None:
    """The episode summary must agree with the steps: length, return(s), how it ended.

    ``last_reply`` is the replay's reply to the last step when every step was replayed
    (``replayed``); without it, ``ended_by`` is checked as far as the recorded steps tell.
    Fields the summary does not hold (or holds as null) are not checked. A ``group``'s
    return is every agent's, its episode may also end early as ``"member_left"``, and a
    truncated one as ``"max_steps"`` or ``"truncated"`` alike.
    """
    summary = run.summary
    if summary is None:
        return None
    if len(run.summaries) > 1:
        return f"the episode summary is recorded {len(run.summaries)} times"
    score = 0.0
    by_agent: dict[str, float] = {}
    for data in steps:
        reward = recorded_reward(data, multi_agent)
        score += score_of(reward, None if group else scene.human, multi_agent)
        add_returns(by_agent, reward, multi_agent)
    last = steps[-1] if steps else {}
    checks: list[tuple[str, Any]] = [
        ("length", len(steps)),
        ("return", browser_value(score)),
        ("terminated", bool(last.get("terminated"))),
        ("truncated", bool(last.get("truncated"))),
    ]
    if multi_agent:
        checks.append(("returns", browser_value(by_agent)))
    for name, expected in checks:
        value = summary.get(name)
        if value is None:
            continue
        found = first_difference(value, expected)
        if found:
            path, got, wanted = found
            if name == "length":
                steps_are = "step is" if wanted == 1 else "steps are"
                return (
                    f"episode summary: length {show(got)} recorded, {wanted} {steps_are} recorded"
                )
            return (
                f"episode summary: {name}{path} {show(got)} recorded, the steps give {show(wanted)}"
            )
    recorded = summary.get("ended_by")
    if recorded is None or recorded == "error":
        return None
    if replayed:
        possible = [ended_by(last_reply)]
    elif last.get("terminated"):
        possible = ["terminated"]
    elif last.get("truncated"):
        possible = ["max_steps", "truncated"]
    else:
        possible = ["stopped"]
    if group and possible == ["stopped"]:
        possible.append(GROUP_LEFT)
    elif group and possible[0] in ("max_steps", "truncated"):
        # the members report the step's flags, not whether max_steps or the env cut it
        possible = ["max_steps", "truncated"]
    if recorded not in possible:
        gives = " or ".join(repr(p) for p in possible)
        return f"episode summary: ended_by {show(recorded)} recorded, the steps give {gives}"
    return None
