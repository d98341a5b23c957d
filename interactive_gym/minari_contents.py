"""What goes into a Minari dataset: its spaces, its episodes' buffers and its metadata.

:func:`choose_spaces` takes the env's declared spaces or infers them from the data
(:mod:`interactive_gym.dataset_spaces`); :func:`buffers` turns each replayed trajectory
(:mod:`interactive_gym.dataset_episodes`) into a Minari ``EpisodeBuffer``, checked to hold
``T + 1`` observations and infos; :func:`metadata` and :func:`episode_metadata` say where the
episodes come from. The other half, the command that writes them: ``minari_dataset.py``.
Minari, Gymnasium and NumPy are imported only when called (the ``minari`` extra).
"""

from __future__ import annotations

import argparse
import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import interactive_gym
from interactive_gym.dataset_episodes import Collected, Trajectory
from interactive_gym.study import Experiment, GymScene
from interactive_gym.study.gym_agents import PythonPolicy
from interactive_gym.study.onnx_policy import OnnxPolicy

if TYPE_CHECKING:
    from gymnasium import spaces


class DatasetError(Exception):
    """A problem that stops the command; the message names the flag or culprit."""


def algorithm_name(scene: GymScene, agents: list[str]) -> str:
    """Minari's ``algorithm_name``: who chose the actions."""
    kinds = set()
    for agent in agents:
        policy = scene.agents[agent]
        if isinstance(policy, PythonPolicy):
            kinds.add(f"PythonPolicy {Path(str(policy.file)).name}:{policy.function}")
        elif isinstance(policy, OnnxPolicy):
            kinds.add(f"OnnxPolicy {policy!r}")
        elif policy == "human":
            kinds.add("human participants")
        else:
            kinds.add(str(policy))
    return ", ".join(sorted(kinds))


# -- spaces ------------------------------------------------------------------------------------


@dataclasses.dataclass
class Spaces:
    observation: spaces.Space[Any]
    action: spaces.Space[Any]
    observation_source: str
    action_source: str


def choose_spaces(scene: GymScene, trajectories: list[Trajectory]) -> Spaces:
    """The env's declared spaces (the same for every agent), else spaces inferred from the data."""
    from interactive_gym.dataset_spaces import SpaceError, infer_action_space, infer_space

    def declared(attribute: str) -> Any:
        found: dict[str, Any] = {}
        for t in trajectories:
            found.setdefault(t.agent, getattr(t, f"declared_{attribute}"))
        values = list(found.values())
        if any(v is None for v in values):
            return None
        if any(v != values[0] for v in values):
            raise DatasetError(
                f"--agent: the agents {', '.join(found)} have different {attribute}s; "
                f"choose one with --agent"
            )
        return values[0]

    try:
        observation = declared("observation_space")
        action = declared("action_space")
        obs_source = "declared" if observation is not None else "inferred"
        action_source = "declared" if action is not None else "inferred"
        if observation is None:
            observation = infer_space([o for t in trajectories for o in t.observations])
        if action is None:
            num_actions = next((t.num_actions for t in trajectories), None)
            action = infer_action_space([a for t in trajectories for a in t.actions], num_actions)
    except SpaceError as error:
        raise DatasetError(f"--scene {scene.scene_id!r}: {error}") from None
    return Spaces(observation, action, obs_source, action_source)


# -- episodes ---------------------------------------------------------------------------------


def buffers(trajectories: list[Trajectory], chosen: Spaces) -> list[Any]:
    """One Minari ``EpisodeBuffer`` per trajectory, checked (``T + 1`` observations)."""
    import numpy as np
    from minari.data_collector import EpisodeBuffer

    from interactive_gym.dataset_spaces import SpaceError, columns, number

    made = []
    for i, t in enumerate(trajectories):
        if len(t.observations) != len(t.actions) + 1 or len(t.infos) != len(t.actions) + 1:
            raise RuntimeError(
                f"{t.where()}: {len(t.observations)} observations and {len(t.infos)} infos "
                f"for {len(t.actions)} actions (T + 1 are needed)"
            )
        try:
            observations = columns(
                t.observations, chosen.observation, chosen.observation_source == "inferred"
            )
            actions = columns(t.actions, chosen.action, chosen.action_source == "inferred")
            rewards = np.asarray([number(r) for r in t.rewards], dtype=np.float64)
        except SpaceError as error:
            raise DatasetError(f"{t.where()} agent {t.agent}: {error}") from None
        infos = info_columns(t.infos)
        made.append(
            EpisodeBuffer(
                id=i,
                seed=t.seed,
                observations=observations,
                actions=actions,
                rewards=list(rewards),
                terminations=list(t.terminations),
                truncations=list(t.truncations),
                infos=infos,
            )
        )
    return made


def info_columns(infos: list[Any]) -> dict[str, Any]:
    """An episode's infos (``T + 1``) as Minari holds them: a dict of arrays, one per key,
    when every info is a dict with the same keys (each key's values inferred like an
    observation's parts, JSON text where they change shape); ``{"json": [...]}`` (each info's
    JSON) otherwise; ``{}`` when every info is empty."""
    from gymnasium import spaces as gym_spaces

    from interactive_gym.dataset_spaces import columns, infer_space, json_text

    if all(isinstance(i, dict) and not i for i in infos):
        return {}
    space = infer_space(infos)
    if isinstance(space, gym_spaces.Dict):
        result: dict[str, Any] = columns(infos, space, True)
        return result
    return {"json": [json_text(i) for i in infos]}


def episode_metadata(t: Trajectory) -> dict[str, Any]:
    """Per-episode metadata (HDF5 attributes: no None values)."""
    data: dict[str, Any] = {
        "owner": t.owner.owner_id,
        "owner_kind": "group" if t.owner.is_group else "participant",
        "episode": t.episode,
        "attempt": t.attempt,
        "agent": t.agent,
        "cut_short": t.cut_short,
    }
    if t.participant is not None:
        data["participant_id"] = t.participant
    if t.ended_by is not None:
        data["ended_by"] = t.ended_by
    if t.owner.is_group:
        data["default_steps"] = t.default_steps
        data["stand_in_steps"] = t.stand_in_steps
    return data


def observations_source(scene: GymScene) -> str:
    if scene.record_observations:
        return (
            "recorded: each step's observation as the scene recorded it (checked against a "
            "replay of the episode); the reset observation, which is never recorded, from the "
            "replay"
        )
    return (
        "replayed: the scene does not record observations; the env was reset with the "
        "episode's seed and stepped with the recorded actions of every agent, after the "
        "replay checked that it gives the recorded rewards, terminations and truncations"
    )


def env_spec(scene: GymScene) -> Any:
    """The Gymnasium spec of an ``env_id`` scene (its ``env_config`` and step limit), else None."""
    if scene.env_id is None:
        return None
    import gymnasium as gym

    spec = gym.spec(scene.env_id)
    limits = [n for n in (spec.max_episode_steps, scene.max_steps) if n is not None]
    return dataclasses.replace(
        spec,
        kwargs={**spec.kwargs, **scene.env_config},
        max_episode_steps=min(limits) if limits else None,
    )


def metadata(
    args: argparse.Namespace,
    experiment: Experiment,
    scene: GymScene,
    study: Path,
    agents: list[str],
    collected: Collected,
    chosen: Spaces,
) -> dict[str, Any]:
    """The ``interactive_gym`` entry of the dataset's metadata."""
    trajectories = collected.trajectories
    participants = sorted({t.participant for t in trajectories if t.participant is not None})
    owners = sorted({t.owner.owner_id for t in trajectories})
    source = {"env_file": scene.env_file, "env_module": scene.env_module}
    source.update(env_id=scene.env_id, env_factory=scene.env_factory)
    return {
        "version": interactive_gym.__version__,
        "exported_at": datetime.now(UTC).isoformat(),
        "study": str(study.resolve()),
        "experiment_id": experiment.experiment_id,
        "scene_id": scene.scene_id,
        "runtime": scene.runtime,
        "env": {k: str(v) for k, v in source.items() if v is not None},
        "env_config": scene.env_config,
        "max_steps": scene.max_steps,
        "agents": agents,
        "owners": owners,
        "owner_kind": "group" if scene.is_group else "participant",
        "participants": participants,
        "observations": observations_source(scene),
        "observation_space_source": chosen.observation_source,
        "action_space_source": chosen.action_source,
        "inferred_text": "a Text part of an inferred space holds each value's JSON",
        "cut_short_episodes": sum(t.cut_short for t in trajectories),
        "cut_short": "an episode cut short (neither terminated nor truncated at its last "
        "recorded step) has its last step marked truncated, as Minari's DataCollector does",
        "skipped_runs": sum(s.runs for s in collected.skipped),
    }
