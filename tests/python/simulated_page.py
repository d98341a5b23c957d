"""A participant's page playing a game scene, simulated in CPython: genuine records.

The worker's own runtime package (``interactive_gym.runtime``: ``EnvHost`` and ``GameHost``)
builds the environment and plays it tick by tick with keys a simulated participant holds;
each reply becomes a step record with the data keys of ``game/record.js`` (through a JSON
round trip, as uploaded) and each episode a summary like ``game/episode.js``'s.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

from interactive_gym.runtime.env_host import EnvHost
from interactive_gym.runtime.game_host import GameHost
from interactive_gym.runtime.plain import to_plain
from interactive_gym.study import GymScene, ParticipantContext
from interactive_gym.study.gym_agents import agents_to_client

SEED = 424242  # the participant's seed, unless given


# -- a participant's page, simulated -------------------------------------------------------


def uploaded(value: Any) -> Any:
    """A plain value as the page uploads it: to_js (string keys), jsonSafe, JSON."""

    def safe(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
        if isinstance(v, dict):
            return {str(k): safe(x) for k, x in v.items()}
        if isinstance(v, list):
            return [safe(x) for x in v]
        return v

    return json.loads(json.dumps(safe(value), allow_nan=False))


def agent_columns(name: str, value: Any, per_agent: bool) -> dict[str, Any]:
    """agentColumns in record.js."""
    if per_agent and isinstance(value, dict):
        return {f"{name}_{agent}": v for agent, v in value.items()}
    return {name: value}


class Page:
    """One page load playing a game scene (attempt ``attempt``), like game/session.js.

    The environment is created once, its episodes played in order; the participant holds a
    random control (or none) for 1-8 ticks at a time.
    """

    def __init__(
        self,
        scene: GymScene,
        attempt: int = 1,
        keys_seed: int = 0,
        participant_seed: int = SEED,
    ) -> None:
        self.scene = scene
        self.attempt = attempt
        self.rng = random.Random(keys_seed)
        self.held: tuple[str, int] = ("", 0)
        host = EnvHost()
        env = {"config": json.loads(json.dumps(scene.env_config))}
        if scene.env_file is not None:
            env.update(code=scene.env_code, filename=Path(scene.env_file).name)
        else:
            env["module"] = scene.env_module
        host.init_env(**env)
        agents = agents_to_client(scene.agents, participant_seed, scene.scene_id)
        agents = json.loads(json.dumps(agents))
        self.game = GameHost(
            host,
            agents=agents,
            hud_function=scene.hud_function,
            max_steps=scene.max_steps,
            num_actions=scene.num_actions,
            record_observations=scene.record_observations,
            state_hash_every=scene.record_state_hash_every,
        )
        self.labels = {
            "+".join("Space" if k == " " else k for k in c["keys"]): c["action"]
            for c in scene.controls
        }
        ctx = ParticipantContext("p1", "study", participant_seed)
        self.seeds = scene.episode_seeds(ctx)

    def keys(self) -> str:
        label, ticks = self.held
        if ticks <= 0:
            label = self.rng.choice(["", *self.labels]) if self.rng.random() > 0.15 else ""
            ticks = self.rng.randint(1, 8)
        self.held = (label, ticks - 1)
        return label

    def play(self, episode: int, stop_after: int | None = None) -> list[dict[str, Any]]:
        """The records of one episode (no summary when stopped by a reload: ``stop_after``)."""
        scene, game = self.scene, self.game
        seed = self.seeds[episode]
        game.start_episode(seed=seed)
        multi = game.multi_agent
        score, by_agent = 0.0, {}
        records, step, reply = [], 0, None
        while True:
            keys = self.keys() if scene.human is not None else ""
            action = self.labels[keys] if keys else scene.default_action
            actions = {scene.human: action} if scene.human is not None else {}
            reply = uploaded(to_plain(game.tick(actions=actions)))
            chosen = reply["actions"] if multi else next(iter(reply["actions"].values()))
            data = {
                **agent_columns("action", chosen, multi),
                **agent_columns("reward", reply["reward"], multi),
                "terminated": reply["terminated"],
                "truncated": reply["truncated"],
                "keys": keys,
                "key_events": [],
                "info": reply["info"],
                "tick_t": 1000.0 + step * 33.33,
                "tick_late_ms": 0.4,
                "dropped_ticks": 0,
                "worker_ms": 1.2,
                "env_ms": 0.8,
                "policy_ms": 0.1,
                "round_trip_ms": 1.9,
                "draw_ms": 0.3,
                "focus": "focused",
            }
            if scene.record_observations:
                data["observation"] = reply["observation"]
            if "stateHash" in reply:
                data["state_hash"] = reply["stateHash"]
            record = {"kind": "step", "scene_id": scene.scene_id, "episode": episode}
            record.update(attempt=self.attempt, step=step, t=1.7e12 + step, data=uploaded(data))
            records.append(record)
            reward = reply["reward"]
            if multi and isinstance(reward, dict):
                score += reward[scene.human] if scene.human is not None else sum(reward.values())
                for agent, r in reward.items():
                    by_agent[agent] = by_agent.get(agent, 0.0) + r
            else:
                score += reward
            step += 1
            if reply["done"] or step == stop_after:
                break
        if step == stop_after and not reply["done"]:
            return records
        ended_by = (
            "terminated"
            if reply["terminated"]
            else "max_steps"
            if reply["maxStepsReached"]
            else "truncated"
        )
        summary = {
            "seed": seed,
            "return": score,
            **({"returns": by_agent} if multi else {}),
            "length": step,
            "terminated": reply["terminated"],
            "truncated": reply["truncated"],
            "ended_by": ended_by,
            "duration_ms": step * 33,
            "ticks": step,
            "late_ticks": 0,
            "dropped_ticks": 0,
            "hidden_steps": 0,
            "fps": scene.fps,
        }
        records.append(
            {
                "kind": "episode",
                "scene_id": scene.scene_id,
                "episode": episode,
                "attempt": self.attempt,
                "step": None,
                "t": 1.7e12 + step,
                "data": uploaded(summary),
            }
        )
        return records

    def play_all(self, first: int = 0) -> list[dict[str, Any]]:
        return [r for e in range(first, self.scene.episodes) for r in self.play(e)]
