"""Physics Duel: two-player air hockey, the reference environment of the benchmark.

Pure Python (standard library only) so it runs unchanged in Pyodide. PettingZoo-style
parallel API with integer agent ids:

- ``possible_agents == [0, 1]``: agent 0 defends the left goal (red), agent 1 the right (blue).
- ``reset(seed=None, options=None) -> (observations, infos)``, both dicts keyed by agent id.
- ``step(actions) -> (observations, rewards, terminated, truncated, infos)``; ``actions`` is a
  dict ``{agent_id: int}`` (keys may also be the strings ``"0"``/``"1"`` that arrive from JSON).
  ``terminated`` and ``truncated`` are dicts keyed by agent id plus ``"__all__"``.
- Actions: 0 none, 1 up, 2 down, 3 left, 4 right, 5 up-left, 6 up-right, 7 down-left,
  8 down-right (screen directions for both agents).
- Observation of each agent: 12 floats in screen coordinates scaled to 0–1, the agent's own
  paddle ``x, y, vx, vy``, then the opponent's paddle, then the puck.
- ``render()`` returns a draw list (see docs/draw-list.md); the table is sent as permanent
  objects on the first render after ``reset``/``set_state``, moving parts on every frame.
- ``get_state()``/``set_state(state)`` use JSON-safe values; a restored env continues
  bit-identically. Randomness comes from a 64-bit LCG whose state is part of the env state.

An episode ends (terminated) when a player reaches ``goals_to_win`` goals, or is truncated
after ``max_steps`` steps. A goal gives +1 to the scorer and -1 to the other player.
"""

from __future__ import annotations

from math import sqrt
from typing import Any

WIDTH = 5.0
HEIGHT = 3.0
GOAL_TOP = 1.0
GOAL_BOTTOM = 2.0
PADDLE_RADIUS = 0.25
PUCK_RADIUS = 0.15
DT = 1.0 / 30.0
PADDLE_ACCEL = 40.0
PADDLE_DAMPING = 0.8
PADDLE_MAX_SPEED = 4.0
PUCK_FRICTION = 0.995
PUCK_MAX_SPEED = 7.0
SERVE_SPEED = 2.0
SERVE_DELAY = 15
RESTITUTION = 0.9
STATE_VERSION = 1

_MASK64 = (1 << 64) - 1
_DIAG = sqrt(0.5)
#: Unit acceleration direction per action (screen coordinates: y grows downwards).
ACTION_DIRECTIONS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (0.0, -1.0),
    (0.0, 1.0),
    (-1.0, 0.0),
    (1.0, 0.0),
    (-_DIAG, -_DIAG),
    (_DIAG, -_DIAG),
    (-_DIAG, _DIAG),
    (_DIAG, _DIAG),
)
ACTION_NAMES = (
    "none",
    "up",
    "down",
    "left",
    "right",
    "up-left",
    "up-right",
    "down-left",
    "down-right",
)
COLORS = ("#e04040", "#3070e0")
#: Canvas size whose aspect ratio matches the table (relative coordinates keep circles round).
RENDER_SIZE = (800, 480)


class PhysicsDuelEnv:
    """Two paddles, one puck, two goals. See the module docstring for the API."""

    possible_agents: list[int] = [0, 1]
    num_actions = len(ACTION_DIRECTIONS)
    render_size = RENDER_SIZE

    def __init__(self, goals_to_win: int = 3, max_steps: int = 1800) -> None:
        if not isinstance(goals_to_win, int) or goals_to_win < 1:
            raise ValueError(f"goals_to_win must be a positive int, got {goals_to_win!r}")
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
        self.goals_to_win = goals_to_win
        self.max_steps = max_steps
        self.agents: list[int] = []
        self._rng = 0
        self._t = 0
        self._score = [0, 0]
        self._paddles = [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
        self._puck = [0.0, 0.0, 0.0, 0.0]
        self._serve_timer = 0
        self._serve_to = 0
        self._done = True
        self._static_sent = False

    # -- randomness -----------------------------------------------------------------------

    def _random(self) -> float:
        """A float in [0, 1) from a 64-bit LCG (identical in CPython and Pyodide)."""
        self._rng = (self._rng * 6364136223846793005 + 1442695040888963407) & _MASK64
        return (self._rng >> 11) / 9007199254740992.0

    # -- API -------------------------------------------------------------------------------

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[int, list[float]], dict[int, dict[str, Any]]]:
        """Start an episode; the same seed gives the same episode."""
        if seed is None:
            seed = 0
        if not isinstance(seed, int):
            raise ValueError(f"seed must be an int or None, got {seed!r}")
        self._rng = (seed ^ 0x9E3779B97F4A7C15) & _MASK64
        self._random()
        self.agents = list(self.possible_agents)
        self._t = 0
        self._score = [0, 0]
        self._serve_to = 0 if self._random() < 0.5 else 1
        self._place_for_serve()
        self._done = False
        self._static_sent = False
        return self._observations(), self._infos()

    def step(self, actions: dict[Any, int]) -> tuple[dict, dict, dict, dict, dict]:
        """Advance one frame (1/30 s of game time) with one action per agent."""
        if self._done:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        accel = [self._action(actions, agent) for agent in (0, 1)]
        for agent in (0, 1):
            self._move_paddle(agent, accel[agent])
        rewards = {0: 0.0, 1: 0.0}
        if self._serve_timer > 0:
            self._serve_timer -= 1
            if self._serve_timer == 0:
                self._serve()
        else:
            self._move_puck()
            for agent in (0, 1):
                self._collide(self._paddles[agent])
            scorer = self._goal_scored()
            if scorer is not None:
                self._score[scorer] += 1
                rewards[scorer] = 1.0
                rewards[1 - scorer] = -1.0
                self._serve_to = 1 - scorer
                self._place_for_serve()
        self._t += 1
        won = max(self._score) >= self.goals_to_win
        out_of_time = self._t >= self.max_steps and not won
        self._done = won or out_of_time
        if self._done:
            self.agents = []
        terminated = {0: won, 1: won, "__all__": won}
        truncated = {0: out_of_time, 1: out_of_time, "__all__": out_of_time}
        return self._observations(), rewards, terminated, truncated, self._infos()

    def render(self) -> list[dict[str, Any]]:
        """The draw list for the current frame (relative coordinates, 5:3 canvas)."""
        objects: list[dict[str, Any]] = []
        if not self._static_sent:
            objects.extend(_table())
            self._static_sent = True
        px, py, pvx, pvy = self._puck
        for i in (3, 2, 1):
            k = i * 2 * DT
            objects.append(
                _circle(f"trail{i}", px - pvx * k, py - pvy * k, PUCK_RADIUS, "#202020", 3)
                | {"alpha": 0.12 * (4 - i)}
            )
        objects.append(_circle("puck", px, py, PUCK_RADIUS, "#202020", 4))
        for agent in (0, 1):
            x, y = self._paddles[agent][0], self._paddles[agent][1]
            objects.append(_circle(f"paddle{agent}", x, y, PADDLE_RADIUS, COLORS[agent], 5))
            objects.append(_circle(f"knob{agent}", x, y, PADDLE_RADIUS * 0.45, "#ffffff", 6))
        for agent, x in ((0, 0.25), (1, 0.75)):
            objects.append(
                {
                    "type": "text",
                    "id": f"score{agent}",
                    "text": str(self._score[agent]),
                    "x": x,
                    "y": 0.02,
                    "size": 28,
                    "color": COLORS[agent],
                    "anchor": [0.5, 0.0],
                    "depth": 10,
                }
            )
        return objects

    def get_state(self) -> dict[str, Any]:
        """Everything needed to continue this episode exactly, as JSON-safe values."""
        return {
            "version": STATE_VERSION,
            "config": {"goals_to_win": self.goals_to_win, "max_steps": self.max_steps},
            "t": self._t,
            "rng": self._rng,
            "score": list(self._score),
            "paddles": [list(p) for p in self._paddles],
            "puck": list(self._puck),
            "serve_timer": self._serve_timer,
            "serve_to": self._serve_to,
            "done": self._done,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from ``get_state`` (also after a JSON round trip)."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ValueError(f"not a physics_duel state (version {STATE_VERSION}): {state!r:.80}")
        config = state["config"]
        if config != {"goals_to_win": self.goals_to_win, "max_steps": self.max_steps}:
            raise ValueError(
                f"state was made with config {config!r}, this env has "
                f"goals_to_win={self.goals_to_win}, max_steps={self.max_steps}"
            )
        self._t = int(state["t"])
        self._rng = int(state["rng"]) & _MASK64
        self._score = [int(s) for s in state["score"]]
        self._paddles = [[float(v) for v in p] for p in state["paddles"]]
        self._puck = [float(v) for v in state["puck"]]
        self._serve_timer = int(state["serve_timer"])
        self._serve_to = int(state["serve_to"])
        self._done = bool(state["done"])
        self.agents = [] if self._done else list(self.possible_agents)
        self._static_sent = False

    # -- physics ---------------------------------------------------------------------------

    @staticmethod
    def _action(actions: dict[Any, int], agent: int) -> tuple[float, float]:
        if not isinstance(actions, dict):
            raise ValueError(f"actions must be a dict keyed by agent id, got {actions!r:.80}")
        action: object = actions.get(agent, actions.get(str(agent)))
        if action is None:
            raise ValueError(f"no action for agent {agent} in {actions!r:.80}")
        if isinstance(action, bool) or not isinstance(action, int):
            if isinstance(action, float) and action.is_integer():
                action = int(action)
            else:
                raise ValueError(f"action for agent {agent} must be an int, got {action!r}")
        if not 0 <= action < len(ACTION_DIRECTIONS):
            raise ValueError(
                f"action for agent {agent} must be in 0..{len(ACTION_DIRECTIONS) - 1}, got {action}"
            )
        return ACTION_DIRECTIONS[action]

    def _move_paddle(self, agent: int, accel: tuple[float, float]) -> None:
        p = self._paddles[agent]
        vx = p[2] * PADDLE_DAMPING + accel[0] * PADDLE_ACCEL * DT
        vy = p[3] * PADDLE_DAMPING + accel[1] * PADDLE_ACCEL * DT
        speed2 = vx * vx + vy * vy
        if speed2 > PADDLE_MAX_SPEED * PADDLE_MAX_SPEED:
            scale = PADDLE_MAX_SPEED / sqrt(speed2)
            vx *= scale
            vy *= scale
        x = p[0] + vx * DT
        y = p[1] + vy * DT
        if agent == 0:
            lo, hi = PADDLE_RADIUS, WIDTH / 2 - PADDLE_RADIUS
        else:
            lo, hi = WIDTH / 2 + PADDLE_RADIUS, WIDTH - PADDLE_RADIUS
        if x < lo or x > hi:
            x = lo if x < lo else hi
            vx = 0.0
        if y < PADDLE_RADIUS or y > HEIGHT - PADDLE_RADIUS:
            y = PADDLE_RADIUS if y < PADDLE_RADIUS else HEIGHT - PADDLE_RADIUS
            vy = 0.0
        p[0], p[1], p[2], p[3] = x, y, vx, vy

    def _move_puck(self) -> None:
        b = self._puck
        vx = b[2] * PUCK_FRICTION
        vy = b[3] * PUCK_FRICTION
        x = b[0] + vx * DT
        y = b[1] + vy * DT
        if y < PUCK_RADIUS:
            y, vy = 2 * PUCK_RADIUS - y, -vy
        elif y > HEIGHT - PUCK_RADIUS:
            y, vy = 2 * (HEIGHT - PUCK_RADIUS) - y, -vy
        in_mouth = GOAL_TOP < y < GOAL_BOTTOM
        if not in_mouth:
            if x < PUCK_RADIUS:
                x, vx = 2 * PUCK_RADIUS - x, -vx
            elif x > WIDTH - PUCK_RADIUS:
                x, vx = 2 * (WIDTH - PUCK_RADIUS) - x, -vx
        b[0], b[1], b[2], b[3] = x, y, vx, vy

    def _collide(self, paddle: list[float]) -> None:
        b = self._puck
        dx = b[0] - paddle[0]
        dy = b[1] - paddle[1]
        dist2 = dx * dx + dy * dy
        reach = PADDLE_RADIUS + PUCK_RADIUS
        if dist2 >= reach * reach:
            return
        dist = sqrt(dist2)
        if dist == 0.0:
            nx, ny = 1.0, 0.0
        else:
            nx, ny = dx / dist, dy / dist
        b[0] = paddle[0] + nx * reach
        b[1] = paddle[1] + ny * reach
        rel = (b[2] - paddle[2]) * nx + (b[3] - paddle[3]) * ny
        if rel < 0.0:
            b[2] -= (1.0 + RESTITUTION) * rel * nx
            b[3] -= (1.0 + RESTITUTION) * rel * ny
        speed2 = b[2] * b[2] + b[3] * b[3]
        if speed2 > PUCK_MAX_SPEED * PUCK_MAX_SPEED:
            scale = PUCK_MAX_SPEED / sqrt(speed2)
            b[2] *= scale
            b[3] *= scale

    def _goal_scored(self) -> int | None:
        x = self._puck[0]
        if x < -PUCK_RADIUS:
            return 1
        if x > WIDTH + PUCK_RADIUS:
            return 0
        return None

    def _place_for_serve(self) -> None:
        self._paddles = [
            [WIDTH * 0.15, HEIGHT / 2, 0.0, 0.0],
            [WIDTH * 0.85, HEIGHT / 2, 0.0, 0.0],
        ]
        self._puck = [WIDTH / 2, HEIGHT / 2, 0.0, 0.0]
        self._serve_timer = SERVE_DELAY

    def _serve(self) -> None:
        vy = (self._random() - 0.5) * SERVE_SPEED
        vx = sqrt(SERVE_SPEED * SERVE_SPEED - vy * vy)
        self._puck[2] = -vx if self._serve_to == 0 else vx
        self._puck[3] = vy

    # -- observations ----------------------------------------------------------------------

    def _observations(self) -> dict[int, list[float]]:
        a, b, puck = self._paddles[0], self._paddles[1], self._puck
        return {
            0: _scaled(a) + _scaled(b) + _scaled(puck),
            1: _scaled(b) + _scaled(a) + _scaled(puck),
        }

    def _infos(self) -> dict[int, dict[str, Any]]:
        info = {"score": list(self._score), "t": self._t}
        return {0: dict(info), 1: dict(info)}


def _scaled(body: list[float]) -> list[float]:
    return [body[0] / WIDTH, body[1] / HEIGHT, body[2] / WIDTH, body[3] / HEIGHT]


def _circle(ident: str, x: float, y: float, radius: float, fill: str, depth: int) -> dict[str, Any]:
    """A circle in world units converted to relative coordinates (radius: of the height)."""
    return {
        "type": "circle",
        "id": ident,
        "x": x / WIDTH,
        "y": y / HEIGHT,
        "radius": radius / HEIGHT,
        "fill": fill,
        "depth": depth,
    }


def _table() -> list[dict[str, Any]]:
    """The permanent objects: surface, walls, centre marks and goals."""
    wall = 0.02
    top, bottom = GOAL_TOP / HEIGHT, GOAL_BOTTOM / HEIGHT
    rects = [
        ("table", 0.0, 0.0, 1.0, 1.0, "#e8f4f8", 0),
        ("wall_top", 0.0, 0.0, 1.0, wall, "#555555", 1),
        ("wall_bottom", 0.0, 1.0 - wall, 1.0, wall, "#555555", 1),
        ("wall_left_top", 0.0, 0.0, wall * 0.6, top, "#555555", 1),
        ("wall_left_bottom", 0.0, bottom, wall * 0.6, 1.0 - bottom, "#555555", 1),
        ("wall_right_top", 1.0 - wall * 0.6, 0.0, wall * 0.6, top, "#555555", 1),
        ("wall_right_bottom", 1.0 - wall * 0.6, bottom, wall * 0.6, 1.0 - bottom, "#555555", 1),
        ("goal0", 0.0, top, wall * 0.6, bottom - top, COLORS[0], 1),
        ("goal1", 1.0 - wall * 0.6, top, wall * 0.6, bottom - top, COLORS[1], 1),
    ]
    objects: list[dict[str, Any]] = [
        {"type": "rect", "id": i, "x": x, "y": y, "w": w, "h": h, "fill": f, "depth": d}
        for i, x, y, w, h, f, d in rects
    ]
    objects.append(
        {
            "type": "line",
            "id": "centre_line",
            "points": [[0.5, 0.0], [0.5, 1.0]],
            "color": "#9bb8c4",
            "width": 3,
            "depth": 1,
        }
    )
    for ident, x, fill in (("centre_circle", 0.5, None), ("crease0", 0.0, None)):
        objects.append(
            {
                "type": "circle",
                "id": ident,
                "x": x,
                "y": 0.5,
                "radius": 0.6 / HEIGHT,
                "fill": fill,
                "stroke": "#9bb8c4",
                "stroke_width": 3,
                "depth": 1,
            }
        )
    objects.append(objects[-1] | {"id": "crease1", "x": 1.0})
    for obj in objects:
        obj["permanent"] = True
    return objects


def make_env(**config: Any) -> PhysicsDuelEnv:
    """Build the env; config: ``goals_to_win`` (default 3), ``max_steps`` (default 1800)."""
    return PhysicsDuelEnv(**config)
