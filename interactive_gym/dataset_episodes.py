"""A game scene's recorded episodes as trajectories of one agent, checked and completed by replay.

The other half: :mod:`interactive_gym.minari_dataset` writes the trajectories as a Minari
dataset. Here every recorded run of the scene (one ``(episode, attempt)`` of a participant, or
of a group for a group game) is replayed the way ``interactive_gym.replay`` verifies it (the
same seeds, the same env built per page load, the same checks), and the replay also keeps
what the env gave: the observation and info of the reset (never recorded) and of every step.
Only runs the replay verifies become trajectories; every other run is listed with its reason.

A trajectory is one agent's view of one run: ``T`` actions, rewards, terminations and
truncations as recorded, and ``T + 1`` observations and infos (the reset's, then one per step).
A step's observation is the recorded one when the scene records observations (the replay
checked it is the env's), else the replayed one; its info is the recorded one (the page and
the server record every step's ``info``). In a multi-agent env an agent's part of an
observation or info keyed by agent is taken; the terminations and truncations are the
episode's, as recorded.

A run whose last step neither terminated nor truncated (the page was closed, the participant
left, the game stopped) is *cut short*: it is kept, with ``cut_short`` set, and the caller
marks its last step truncated (what Minari's own ``DataCollector`` does to an episode it
closes before the env ended it).
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from interactive_gym.data.store import Store
from interactive_gym.replay._group import STAND_IN, GroupSceneReplay, stand_in_specs
from interactive_gym.replay._records import Run, action_column, seed_of
from interactive_gym.replay._records import group as runs_of
from interactive_gym.replay._replay import (
    Budget,
    EpisodeVerdict,
    SceneReplay,
    _Played,
    replay_scenes,
)
from interactive_gym.replay._runtime import Game
from interactive_gym.replay._values import browser_value
from interactive_gym.runtime.plain import to_plain
from interactive_gym.study import Experiment, GymScene

#: ``participant_<agent>`` of a step the server played with the agent's ``default_action``.
DEFAULT_INPUT = "default"


class RecordingGame(Game):
    """A replay's game that keeps the reply of the last reset (its observation and info)."""

    reset_reply: dict[str, Any] | None = None

    def start(self, seed: int) -> dict[str, Any]:
        """:meth:`Game.start`, keeping the reply."""
        self.reset_reply = super().start(seed)
        return self.reset_reply


@dataclass
class Captured:
    """What the env gave while one run was replayed: the observation and info of the reset
    and of each step (``{"observation", "info"}``), on the replay's game."""

    game: RecordingGame
    reset: dict[str, Any]
    steps: list[dict[str, Any]]


def _given(reply: Mapping[str, Any]) -> dict[str, Any]:
    return {"observation": reply.get("observation"), "info": reply.get("info")}


class CaptureReplay(SceneReplay):
    """A scene's replay that also keeps, for each run, what the env gave (:class:`Captured`).

    ``runs``: every run replayed, with its verdict and (when its first play got that far)
    what was captured; only the first play of a run is kept (a determinism re-check after a
    mismatch plays it again, and such a run is never verified).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.runs: list[tuple[Run, EpisodeVerdict, Captured | None]] = []
        self._capturing = False
        self._steps: list[dict[str, Any]] | None = None
        self._captured: Captured | None = None

    def _stand_ins(self) -> dict[str, dict[str, Any]] | None:
        return None

    def _make_game(self) -> Game:
        return RecordingGame(self.scene, self.check_policies, self._stand_ins())

    def verdict(self, run: Run) -> EpisodeVerdict:
        self._capturing, self._captured = True, None
        verdict = super().verdict(run)
        self.runs.append((run, verdict, self._captured))
        self._capturing, self._captured = False, None
        return verdict

    def _play(
        self,
        game: Game,
        run: Run,
        seed: int,
        steps: list[Mapping[str, Any]],
        *args: Any,
        **kwargs: Any,
    ) -> _Played:
        if not self._capturing:
            return super()._play(game, run, seed, steps, *args, **kwargs)
        self._capturing = False
        self._steps = []
        try:
            played = super()._play(game, run, seed, steps, *args, **kwargs)
        finally:
            replies, self._steps = self._steps, None
        if isinstance(game, RecordingGame) and game.reset_reply is not None:
            self._captured = Captured(game, _given(game.reset_reply), replies)
        return played

    def _observed(
        self, game: Game, reply: dict[str, Any], data: Mapping[str, Any]
    ) -> dict[str, Any]:
        if self._steps is not None:
            self._steps.append(_given(reply))
        return super()._observed(game, reply, data)


class GroupCaptureReplay(CaptureReplay, GroupSceneReplay):
    """:class:`CaptureReplay` of a group's game (the canonical rows, ``replay/_group.py``)."""

    def _stand_ins(self) -> dict[str, dict[str, Any]] | None:
        return self.stand_ins


# -- owners: the participants or groups whose runs are replayed -----------------------------


@dataclass
class Owner:
    """Whose records: a participant, or a group (a group game's records are the group's)."""

    owner_id: str
    seed: int
    #: ``{agent: participant_id}``: who played each human agent (a participant: their own).
    players: dict[str, str]
    is_group: bool = False
    #: A group's waiting-room stand-ins (``{agent: spec}``) and the agents they played.
    stand_ins: dict[str, Any] = field(default_factory=dict)
    #: Agents whose player is left out, with why (excluded or reset by the researcher).
    left_out: dict[str, str] = field(default_factory=dict)
    #: Why all of a participant's runs are left out (None: they are not).
    excluded: str | None = None


@dataclass
class Trajectory:
    """One agent's view of one verified run; see the module docstring."""

    owner: Owner
    agent: str
    episode: int
    attempt: int
    seed: int
    observations: list[Any]
    actions: list[Any]
    rewards: list[Any]
    terminations: list[bool]
    truncations: list[bool]
    infos: list[Any]
    cut_short: bool
    ended_by: str | None
    #: In a group game: steps the server played the agent's default action (member away),
    #: and steps a stand-in played it.
    default_steps: int = 0
    stand_in_steps: int = 0
    #: The env's own spaces for the agent (None: it declares none; see dataset_spaces) and
    #: the game's number of actions (None: unknown).
    declared_observation_space: Any = None
    declared_action_space: Any = None
    num_actions: int | None = None

    @property
    def participant(self) -> str | None:
        return self.owner.players.get(self.agent)

    def where(self) -> str:
        kind = "group" if self.owner.is_group else "participant"
        return f"{kind} {self.owner.owner_id} episode {self.episode} attempt {self.attempt}"


@dataclass
class Skipped:
    """A run (or an owner's runs) left out of the dataset, and why."""

    where: str
    reason: str
    runs: int = 1


@dataclass
class Collected:
    trajectories: list[Trajectory] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _left_out(participant: Any) -> str | None:
    if participant.excluded:
        reason = f": {participant.excluded_reason}" if participant.excluded_reason else ""
        return f"excluded by the researcher{reason}"
    if participant.reset_at is not None:
        return "reset by the researcher (an earlier run, kept under this id)"
    return None


def find_owners(
    store: Store,
    experiment: Experiment,
    scene: GymScene,
    participant_ids: Collection[str] | None,
) -> list[Owner]:
    """The owners of the scene's records in the experiment (only those of ``participant_ids``,
    and the groups they were in, when given)."""
    chosen = None if participant_ids is None else set(participant_ids)
    participants = {p.participant_id: p for p in store.participants(experiment.experiment_id)}
    if not scene.is_group:
        return [
            Owner(
                p.participant_id,
                p.seed,
                {str(h): p.participant_id for h in scene.humans},
                excluded=_left_out(p),
            )
            for p in participants.values()
            if chosen is None or p.participant_id in chosen
        ]
    from interactive_gym.server.seated_game import room_stand_ins

    owners = []
    for group in store.groups(experiment.experiment_id):
        if chosen is not None and chosen.isdisjoint(group.member_ids):
            continue
        seed = experiment.group_seed(group.group_id)
        players = {m.agent_id: m.participant_id for m in group.members}
        left_out = {}
        for agent, pid in players.items():
            found = participants.get(pid)
            reason = _left_out(found) if found is not None else None
            if reason is not None:
                left_out[agent] = f"participant {pid}: {reason}"
        room = experiment.room_of(scene.scene_id)
        stand_ins = room_stand_ins(room, group, seed, scene.scene_id)
        owners.append(Owner(group.group_id, seed, players, True, stand_ins, left_out))
    return owners


# -- replaying and collecting ----------------------------------------------------------------


def collect(
    store: Store,
    experiment: Experiment,
    scene: GymScene,
    agents: list[str],
    participant_ids: Collection[str] | None = None,
) -> Collected:
    """Every verified run of ``scene`` as one trajectory per agent of ``agents``."""
    collected = Collected()
    for owner in find_owners(store, experiment, scene, participant_ids):
        records = [
            r
            for r in store.iter_records(owner.owner_id, scene_id=scene.scene_id)
            if r["kind"] in ("step", "episode")
        ]
        if not records:
            continue
        kind = "group" if owner.is_group else "participant"
        if owner.excluded is not None:
            runs = len(runs_of(records, scene.scene_id))
            collected.skipped.append(Skipped(f"{kind} {owner.owner_id}", owner.excluded, runs))
            continue
        replay = _replay(scene, owner, records)
        for run, verdict, captured in replay.runs:
            where = f"{kind} {owner.owner_id} episode {run.episode} attempt {run.attempt}"
            if verdict.verified is not True or captured is None:
                why = verdict.reason or "nothing was replayed"
                state = (
                    "does not replay as recorded" if verdict.verified is False else "not replayed"
                )
                collected.skipped.append(Skipped(where, f"{state}: {why}"))
                continue
            for agent in agents:
                problem = _agent_problem(owner, agent)
                if problem is not None:
                    collected.skipped.append(Skipped(f"{where} agent {agent}", problem))
                    continue
                collected.trajectories.append(trajectory(scene, owner, agent, run, captured))
    return collected


def _agent_problem(owner: Owner, agent: str) -> str | None:
    if agent in owner.left_out:
        return owner.left_out[agent]
    if owner.is_group and agent in owner.stand_ins:
        return f"agent {agent} was played by a stand-in (the group was short of members)"
    return None


def _replay(scene: GymScene, owner: Owner, records: list[dict[str, Any]]) -> CaptureReplay:
    made: list[CaptureReplay] = []

    def replay_of(scene: GymScene, budget: Budget) -> SceneReplay:
        if owner.is_group:
            specs = stand_in_specs(scene, owner.stand_ins, owner.seed)
            made.append(GroupCaptureReplay(scene, owner.seed, False, budget, specs))
        else:
            made.append(CaptureReplay(scene, owner.seed, False, budget))
        return made[-1]

    replay_scenes(scene, records, replay_of, time_limit_s=None, step_limit=sys.maxsize)
    return made[0]


def _recorded(value: Any) -> Any:
    """A value the env gave, as the browser records it."""
    return browser_value(to_plain(value))


def agent_part(value: Any, agent_ids: Iterable[str], agent: str, multi_agent: bool) -> Any:
    """An agent's part of a multi-agent observation or info (a dict keyed by agent)."""
    if not multi_agent or not isinstance(value, dict) or agent not in value:
        return value
    return value[agent] if set(value) <= set(agent_ids) else value


def trajectory(
    scene: GymScene,
    owner: Owner,
    agent: str,
    run: Run,
    captured: Captured,
) -> Trajectory:
    """One agent's trajectory of a verified run (see the module docstring)."""
    from interactive_gym.dataset_spaces import declared_space

    game = captured.game
    multi = game.multi_agent
    env = game.host.require_env()
    env_id = game.game.agents.get(agent)
    env_ids = {key: str(ident) for key, ident in game.game.agents.items()}
    own = env_ids.get(agent, agent)
    ids = set(env_ids.values())
    steps = run.step_data()
    if len(captured.steps) != len(steps):  # a verified run replays every recorded step
        raise RuntimeError(f"{len(captured.steps)} steps replayed, {len(steps)} recorded")

    def part(value: Any) -> Any:
        return agent_part(value, ids, own, multi)

    observations = [part(_recorded(captured.reset.get("observation")))]
    infos = [part(_recorded(captured.reset.get("info")))]
    actions, rewards, terminations, truncations = [], [], [], []
    recorded_observations = scene.record_observations
    for data, reply in zip(steps, captured.steps, strict=True):
        if recorded_observations and "observation" in data:
            observations.append(part(data["observation"]))
        else:
            observations.append(part(_recorded(reply.get("observation"))))
        infos.append(part(data["info"] if "info" in data else _recorded(reply.get("info"))))
        actions.append(data.get(action_column(agent, multi)))
        reward_column = f"reward_{own}"
        rewards.append(data[reward_column] if multi and reward_column in data else data["reward"])
        terminations.append(bool(data.get("terminated")))
        truncations.append(bool(data.get("truncated")))
    cut_short = not (terminations[-1] or truncations[-1])
    if cut_short:
        truncations[-1] = True
    played_by = [data.get(f"participant_{agent}") for data in steps] if owner.is_group else []
    summary = run.summary or {}
    ended_by = summary.get("ended_by")
    return Trajectory(
        owner=owner,
        agent=agent,
        episode=run.episode,
        attempt=run.attempt,
        seed=_seed(scene, run, owner),
        observations=observations,
        actions=actions,
        rewards=rewards,
        terminations=terminations,
        truncations=truncations,
        infos=infos,
        cut_short=cut_short,
        ended_by=ended_by if isinstance(ended_by, str) else None,
        default_steps=played_by.count(DEFAULT_INPUT),
        stand_in_steps=played_by.count(STAND_IN),
        declared_observation_space=declared_space(env, "observation_space", env_id, multi),
        declared_action_space=declared_space(env, "action_space", env_id, multi),
        num_actions=game.game.num_actions,
    )


def _seed(scene: GymScene, run: Run, owner: Owner) -> int:
    """The seed the run was replayed with (the replay checked the summary's against it)."""
    seed, _ = seed_of(scene, run, owner.seed)
    if seed is None:
        raise RuntimeError(f"episode {run.episode}: a verified run without a seed")
    return seed
