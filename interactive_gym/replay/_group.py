"""Replaying a group's game in the browser: the canonical step rows the server wrote for it.

In a group game with ``runtime="browser"`` every member's worker runs the environment; the
server never does. It writes one *canonical* step record per frame from the confirmed inputs
and the members' reports, owned by the group id (``server/net_game.py``), with every agent's
``action_<agent>``, ``reward_<agent>``, the episode's ``terminated``/``truncated``, per human
agent ``participant_<agent>`` (a participant id; ``"default"``: the server played the agent's
``default_action`` while its member was away; ``"stand_in"``: the input was None and the
worker's stand-in chose) and ``keys_<agent>``, and every few frames ``state_hash``: the hash of
the state right after the step (``runtime/netcode.py``). :func:`replay_group` replays those
rows as :func:`~interactive_gym.replay.replay_participant` replays a participant's, from the
episode seeds the scene gives the group (``scene.episode_seeds(ctx)`` with the group's context,
``server/groups.py``), stepping every agent with its recorded action. A run is True when, on
top of what a participant's run must show:

- every human agent's action is one the controls give (or ``default_action``), and the one
  its ``keys_<agent>`` give, unless the server (``"default"``) or a stand-in played it;
- an agent recorded as played by a stand-in has one (the scene's ``on_member_leave`` StandIn,
  or the waiting room's for a group short of members, ``stand_ins``), and a random stand-in's
  action is the one its seeded generator draws;
- every recorded ``state_hash`` is the hash of the replayed state after that step;
- the summary's ``return`` is every agent's, and an episode may end early as
  ``"member_left"`` (a member left before the environment ended it).

The first ``input_delay_frames`` frames are every member's ``default_action`` by rule, whoever
plays the agent. The game is built with the stand-ins the members' workers were given (the
scene's, and ``stand_ins``): a random stand-in's generator is part of the hashed state whether
it plays or not, so other stand-ins make every hash differ. A row no member reported
(``reports`` 0: the server wrote it from the inputs alone) has no AI actions: the run is not
checked from there on (None). A mismatch on a row whose ``agreed`` is False says so.

The other half: ``server/verification.py`` replays a group's rows when its game ends.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from interactive_gym.replay._records import Controls
from interactive_gym.replay._replay import (
    DEFAULT_TIME_LIMIT_S,
    MAX_REPLAY_STEPS,
    Budget,
    ParticipantVerdict,
    SceneReplay,
    error_text,
    replay_scenes,
)
from interactive_gym.replay._runtime import Game
from interactive_gym.replay._values import MISSING
from interactive_gym.study.gym import GymScene
from interactive_gym.study.gym_group import merge_stand_ins

#: ``participant_<agent>`` of an agent the server played with its ``default_action``.
DEFAULT = "default"
#: ``participant_<agent>`` of an agent a stand-in played (its input was None).
STAND_IN = "stand_in"


def inputs_problem(
    scene: GymScene, steps: list[Mapping[str, Any]], stand_ins: Collection[str], delay: int
) -> str | None:
    """Every human agent's recorded action against the controls and its keys, step by step;
    ``stand_ins``: the agents a stand-in may play; ``delay``: the input delay, whose first
    frames every member plays ``default_action`` (its stand-in's too)."""
    controls = Controls(scene)
    for i, data in enumerate(steps):
        for agent in scene.humans:
            who = data.get(f"participant_{agent}")
            if who == STAND_IN and i < delay:
                who = DEFAULT
            if who == STAND_IN:
                if agent not in stand_ins:
                    return (
                        f"step {i}: participant_{agent} 'stand_in' recorded, but the game has "
                        f"no stand-in for agent {agent}"
                    )
                continue
            column = f"action_{agent}"
            action = data.get(column, MISSING)
            problem = controls.action_problem(i, column, action)
            if problem is None and who != DEFAULT:
                keys_column = f"keys_{agent}"
                problem = controls.keys_problem(
                    i, column, action, keys_column, data.get(keys_column)
                )
            if problem is not None:
                return f"{problem} (agent {agent})"
    return None


class GroupSceneReplay(SceneReplay):
    """The canonical rows of one group scene, replayed as the members' workers played them."""

    group = True

    def __init__(
        self,
        scene: GymScene,
        group_seed: int | None,
        check_policies: bool,
        budget: Budget,
        stand_ins: dict[str, dict[str, Any]],
    ) -> None:
        super().__init__(scene, group_seed, check_policies, budget)
        self.stand_ins = stand_ins
        self.delay = scene.net.input_delay_frames or 0

    def _inputs_problem(self, steps: list[Mapping[str, Any]]) -> str | None:
        return inputs_problem(self.scene, steps, self.stand_ins, self.delay)

    def _make_game(self) -> Game:
        return Game(self.scene, self.check_policies, stand_ins=self.stand_ins)

    def _standing_in(self, i: int, data: Mapping[str, Any]) -> frozenset[str]:
        if i < self.delay:  # every member's input of these frames is default_action
            return frozenset()
        return frozenset(a for a in self.scene.humans if data.get(f"participant_{a}") == STAND_IN)

    def _stop_before(self, data: Mapping[str, Any]) -> str | None:
        if data.get("reports") == 0:
            return "no member reported this frame (reports 0): its AI actions are unknown"
        return None

    def _after_tick(self, game: Game, data: Mapping[str, Any]) -> dict[str, Any]:
        if self.scene.runtime == "server":  # the env's hash (record_state_hash_every)
            return super()._after_tick(game, data)
        hashed = data.get("state_hash") is not None
        return {"state_hash": game.state_hash()} if hashed else {}

    def _explain(self, data: Mapping[str, Any], reason: str) -> str:
        if data.get("agreed") is False:
            return f"{reason} (the members' reports of this frame disagreed: agreed is False)"
        return reason

    def _records_observation(self, data: Mapping[str, Any]) -> bool:
        return self.scene.record_observations and "observation" in data

    def _who(self, agent: str) -> str:
        if agent in self.scene.humans:
            kind = self.stand_ins.get(agent, {}).get("kind")
            return "the random draw of the stand-in" if kind == "random" else "the stand-in"
        return super()._who(agent)


def stand_in_specs(
    scene: GymScene, given: Mapping[str, Any] | None, group_seed: int | None
) -> dict[str, dict[str, Any]]:
    """The stand-ins of a group game, as ``GymScene.game_spec`` merges them: the scene's
    ``on_member_leave`` StandIn, updated with ``given`` (the waiting room's)."""
    specs = merge_stand_ins(scene.on_member_leave, given, group_seed or 0, scene.scene_id)
    return {str(agent): dict(spec) for agent, spec in specs.items()}


def replay_group(
    scenes: GymScene | Iterable[GymScene],
    records: Iterable[Mapping[str, Any]],
    group_seed: int | None = None,
    *,
    stand_ins: Mapping[str, Any] | None = None,
    check_policies: bool = False,
    time_limit_s: float | None = DEFAULT_TIME_LIMIT_S,
    step_limit: int = MAX_REPLAY_STEPS,
) -> ParticipantVerdict:
    """Replay every recorded episode run of one group's games in the given group scenes.

    Args:
        scenes: the study's group scenes (loaded); records of other scenes are left out.
        records: the group's own records as the store gives them (owner: the group id); kinds
            other than ``step`` and ``episode`` are left out.
        group_seed: the group's seed (``experiment.group_seed(group_id)``, as
            ``Groups.context`` gives it): each episode's seed is then checked against the one
            the scene gives the group. Without it the summary's seed is trusted.
        stand_ins: the waiting room's stand-ins of a group short of members, ``{agent: spec}``
            as ``group_game.room_stand_ins`` gives them (the scene's ``on_member_leave``
            StandIn is known from the scene).
        check_policies: also recompute the actions of Python-policy agents and Python
            stand-ins and compare them with the recorded ones.
        time_limit_s: wall-clock budget of the whole call (None: none).
        step_limit: environment steps the call may replay.

    Returns the group's verdict (a :class:`ParticipantVerdict` whose episodes are the group's
    runs). Never raises for anything in the records or the environment; synchronous.
    """

    def replay(scene: GymScene, budget: Budget) -> SceneReplay:
        specs = stand_in_specs(scene, stand_ins, group_seed)
        return GroupSceneReplay(scene, group_seed, check_policies, budget, specs)

    try:
        return replay_scenes(scenes, records, replay, time_limit_s, step_limit)
    except (Exception, SystemExit) as error:  # a last resort: the caller must get a verdict
        return ParticipantVerdict(None, f"the replay failed: {error_text(error)}")
