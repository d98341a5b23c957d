"""Walkers: a tiny pure-Python multi-agent env for the netcode tests, with two ways to go wrong.

Each player walks on a line of 20 cells (actions 0 stay, 1 left, 2 right, 3 and 4 stay too) and
scores a point each time it reaches the end it is walking to. ``get_state``/``set_state`` are
JSON-safe. Two faults, for the tests:

- ``unseeded=True``: every step moves a hidden value by ``random.random()`` from Python's
  global generator, never seeded: the env is not deterministic, which the load-time check must
  catch;
- ``drift_at=k``: at step ``k`` only, the hidden value moves by ``random.random()``: the
  members' states diverge once, mid-game, after the load-time check passed; the desync must be
  detected and repaired.

``stateless=True`` gives the env without ``get_state``/``set_state`` (lockstep only).
"""

from __future__ import annotations

import random
from typing import Any

CELLS = 20


class Walkers:
    num_actions = 5
    render_size = (400, 120)

    def __init__(self, players: int = 2, unseeded: bool = False, drift_at: int | None = None):
        self.possible_agents = list(range(players))
        self.agents: list[int] = []
        self.unseeded = unseeded
        self.drift_at = drift_at
        self.s: dict[str, Any] = {}

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        seed = seed or 0
        self.s = {
            "t": 0,
            "pos": [(seed + 3 * i) % CELLS for i in self.possible_agents],
            "score": [0 for _ in self.possible_agents],
            "hidden": 0.0,
        }
        self.agents = list(self.possible_agents)
        return self._obs(), {i: {} for i in self.possible_agents}

    def step(self, actions: dict) -> tuple[dict, dict, dict, dict, dict]:
        s = self.s
        rewards = {}
        for i in self.possible_agents:
            a = actions.get(i, 0)
            move = -1 if a == 1 else 1 if a == 2 else 0
            s["pos"][i] = min(max(s["pos"][i] + move, 0), CELLS - 1)
            hit = move != 0 and s["pos"][i] in (0, CELLS - 1)
            s["score"][i] += int(hit)
            rewards[i] = 1.0 if hit else 0.0
        if self.unseeded or s["t"] == self.drift_at:
            s["hidden"] += random.random()
        s["t"] += 1
        terminated = {i: False for i in self.possible_agents} | {"__all__": False}
        truncated = dict(terminated)
        infos = {i: {"t": s["t"]} for i in self.possible_agents}
        return self._obs(), rewards, terminated, truncated, infos

    def _obs(self) -> dict:
        return {i: list(self.s["pos"]) for i in self.possible_agents}

    def get_state(self) -> dict:
        s = self.s
        return {
            "t": s["t"],
            "pos": list(s["pos"]),
            "score": list(s["score"]),
            "hidden": s["hidden"],
        }

    def set_state(self, state: dict) -> None:
        self.s = {
            "t": state["t"],
            "pos": list(state["pos"]),
            "score": list(state["score"]),
            "hidden": state["hidden"],
        }

    def render(self) -> list[dict]:
        objects: list[dict] = [
            {"type": "rect", "id": "line", "x": 0, "y": 0.45, "w": 1, "h": 0.1, "fill": "#ccc"}
        ]
        for i, p in enumerate(self.s["pos"]):
            objects.append(
                {"type": "circle", "id": f"p{i}", "x": (p + 0.5) / CELLS, "y": 0.5,
                 "radius": 0.02, "fill": ["#d33", "#33d", "#3a3"][i % 3], "depth": 1}
            )  # fmt: skip
        return objects


class StatelessWalkers(Walkers):
    """Walkers without ``get_state``/``set_state``: playable in lockstep only."""

    get_state = None  # type: ignore[assignment]
    set_state = None  # type: ignore[assignment]


def make_env(stateless: bool = False, **config: Any) -> Walkers:
    return (StatelessWalkers if stateless else Walkers)(**config)
