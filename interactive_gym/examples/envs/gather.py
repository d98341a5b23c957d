"""Gather: a few players collect coins on a small field together (any number of agents).

A pure-Python multi-agent env (runs in Pyodide and on the server runtime alike):

- ``possible_agents == [0, 1, ..., players - 1]``; actions 0 stay, 1 up, 2 down, 3 left,
  4 right (one cell per step; players may share a cell).
- Coins appear at cells drawn from the episode's seed; a player stepping on a coin scores 1
  (its own reward), and a new coin appears. The team's score is the sum.
- ``step(actions) -> (observations, rewards, terminated, truncated, infos)`` with per-agent
  dicts; the episode is truncated after ``max_steps``.
- Observation per agent: ``{"me": [x, y], "others": [[x, y], ...], "coins": [[x, y], ...]}``.
- ``render()`` redraws everything each frame (no permanent objects), so a player who joins
  mid-episode sees the whole field at once; ``get_state``/``set_state`` are JSON-safe.
"""

from __future__ import annotations

from typing import Any

WIDTH, HEIGHT = 9, 7
MOVES = ((0, 0), (0, -1), (0, 1), (-1, 0), (1, 0))
COLOURS = ("#2f6fdf", "#d9482b", "#2a9d4b", "#9b51e0", "#e0a020", "#20a0b0")
_MASK64 = (1 << 64) - 1


class GatherEnv:
    """Players collecting coins on a ``WIDTH`` x ``HEIGHT`` field."""

    num_actions = len(MOVES)
    render_size = (540, 420)

    def __init__(self, players: int = 3, coins: int = 4, max_steps: int = 600) -> None:
        if not isinstance(players, int) or not 1 <= players <= len(COLOURS):
            raise ValueError(f"players must be 1 to {len(COLOURS)}, got {players!r}")
        if not isinstance(coins, int) or not 1 <= coins <= 10:
            raise ValueError(f"coins must be 1 to 10, got {coins!r}")
        self.possible_agents = list(range(players))
        self.agents: list[int] = []
        self.coin_count = coins
        self.max_steps = max_steps
        self._state: dict[str, Any] = {}

    def _random_cell(self) -> list[int]:
        s = self._state
        s["rng"] = (s["rng"] * 6364136223846793005 + 1442695040888963407) & _MASK64
        n = (s["rng"] >> 33) % (WIDTH * HEIGHT)
        return [n % WIDTH, n // WIDTH]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[int, Any], dict[int, Any]]:
        seed = 0 if seed is None else int(seed)
        starts = [[1 + 3 * (i % 3), 1 + 4 * (i // 3)] for i in self.possible_agents]
        self._state = {"rng": (seed ^ 0x9E3779B97F4A7C15) & _MASK64, "t": 0, "players": starts}
        self._state["coins"] = [self._random_cell() for _ in range(self.coin_count)]
        self._state["scores"] = [0] * len(self.possible_agents)
        self.agents = list(self.possible_agents)
        return self._observations(), {i: {} for i in self.agents}

    def step(self, actions: dict[Any, int]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        s = self._state
        rewards = {}
        for i in self.possible_agents:
            action = actions.get(i, 0)
            if not isinstance(action, int) or not 0 <= action < len(MOVES):
                raise ValueError(f"agent {i}: action must be 0 to {len(MOVES) - 1}, got {action!r}")
            dx, dy = MOVES[action]
            x, y = s["players"][i]
            s["players"][i] = [min(max(x + dx, 0), WIDTH - 1), min(max(y + dy, 0), HEIGHT - 1)]
            rewards[i] = 0.0
            if s["players"][i] in s["coins"]:
                s["coins"].remove(s["players"][i])
                s["coins"].append(self._random_cell())
                s["scores"][i] += 1
                rewards[i] = 1.0
        s["t"] += 1
        done = s["t"] >= self.max_steps
        terminated = {i: False for i in self.possible_agents} | {"__all__": False}
        truncated = {i: done for i in self.possible_agents} | {"__all__": done}
        if done:
            self.agents = []
        infos = {i: {"team_score": sum(s["scores"])} for i in self.possible_agents}
        return self._observations(), rewards, terminated, truncated, infos

    def _observations(self) -> dict[int, Any]:
        s = self._state
        return {
            i: {
                "me": list(s["players"][i]),
                "others": [list(p) for j, p in enumerate(s["players"]) if j != i],
                "coins": [list(c) for c in s["coins"]],
            }
            for i in self.possible_agents
        }

    def get_state(self) -> dict[str, Any]:
        return {"state": _copy(self._state), "agents": list(self.agents)}

    def set_state(self, state: dict[str, Any]) -> None:
        self._state = _copy(state["state"])
        self.agents = list(state["agents"])

    def render(self) -> list[dict[str, Any]]:
        s = self._state
        cw, ch = 1 / WIDTH, 1 / HEIGHT
        objects: list[dict[str, Any]] = [
            {"type": "rect", "id": "field", "x": 0, "y": 0, "w": 1, "h": 1, "fill": "#eef3e8"}
        ]
        for k, (x, y) in enumerate(s["coins"]):
            objects.append(
                {"type": "circle", "id": f"coin{k}", "x": (x + 0.5) * cw, "y": (y + 0.5) * ch}
                | {"radius": 0.22 * cw, "fill": "#f2c200", "depth": 1}
            )
        for i, (x, y) in enumerate(s["players"]):
            offset = (i - (len(s["players"]) - 1) / 2) * 0.12 * cw
            objects.append(
                {"type": "circle", "id": f"player{i}", "x": (x + 0.5) * cw + offset}
                | {"y": (y + 0.5) * ch, "radius": 0.32 * cw, "fill": COLOURS[i], "depth": 2}
            )
        text = "  ".join(f"P{i + 1}: {n}" for i, n in enumerate(s["scores"]))
        objects.append(
            {"type": "text", "id": "scores", "text": text, "x": 0.02, "y": 0.02}
            | {"size": 18, "color": "#202020", "depth": 3}
        )
        return objects


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def make_env(**config: Any) -> GatherEnv:
    """Build the env; config: ``players`` (3), ``coins`` (4), ``max_steps`` (600)."""
    return GatherEnv(**config)
