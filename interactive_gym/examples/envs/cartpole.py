"""CartPole: the classic control task, single agent, in pure Python (runs in Pyodide).

Same physics and limits as Gymnasium's ``CartPole-v1`` (explicit Euler, 0.02 s per step),
with a Gymnasium-style single-agent API and plain actions:

- ``reset(seed=None, options=None) -> (observation, info)``
- ``step(action) -> (observation, reward, terminated, truncated, info)`` with ``action`` 0
  (push left) or 1 (push right); ``terminated`` and ``truncated`` are bools.
- Observation: ``[x, x_dot, theta, theta_dot]`` (list of 4 floats); reward 1.0 per step.
- Terminated when the pole leans past 12 degrees or the cart leaves ±2.4; truncated after
  ``max_steps`` (500) steps.
- ``render()`` returns a draw list (docs/draw-list.md); ``get_state``/``set_state`` are JSON-safe.

Sine and cosine are computed with basic arithmetic only, so a run is bit-identical in CPython
and in Pyodide (platform ``libm`` implementations may differ in the last bit).
"""

from __future__ import annotations

from typing import Any

GRAVITY = 9.8
CART_MASS = 1.0
POLE_MASS = 0.1
TOTAL_MASS = CART_MASS + POLE_MASS
HALF_LENGTH = 0.5
POLE_MASS_LENGTH = POLE_MASS * HALF_LENGTH
FORCE = 10.0
TAU = 0.02
PI = 3.141592653589793
THETA_LIMIT = 12 * 2 * PI / 360
X_LIMIT = 2.4
STATE_VERSION = 1
_MASK64 = (1 << 64) - 1
RENDER_SIZE = (600, 400)
WORLD_WIDTH = 6.0  # metres shown across the canvas


def sin_cos(angle: float) -> tuple[float, float]:
    """Sine and cosine from a Taylor series after reduction to [-pi, pi] (deterministic)."""
    turns = round(angle / (2 * PI))
    x = angle - turns * (2 * PI)
    x2 = x * x
    sin_term, cos_term = x, 1.0
    sin_sum, cos_sum = x, 1.0
    for n in range(1, 16):
        sin_term *= -x2 / ((2 * n) * (2 * n + 1))
        cos_term *= -x2 / ((2 * n - 1) * (2 * n))
        sin_sum += sin_term
        cos_sum += cos_term
    return sin_sum, cos_sum


class CartPoleEnv:
    """Balance a pole on a cart by pushing the cart left or right."""

    num_actions = 2
    render_size = RENDER_SIZE

    def __init__(self, max_steps: int = 500) -> None:
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
        self.max_steps = max_steps
        self._x = [0.0, 0.0, 0.0, 0.0]
        self._t = 0
        self._rng = 0
        self._done = True
        self._static_sent = False

    def _random(self) -> float:
        self._rng = (self._rng * 6364136223846793005 + 1442695040888963407) & _MASK64
        return (self._rng >> 11) / 9007199254740992.0

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[list[float], dict[str, Any]]:
        """Start with all four state values uniform in [-0.05, 0.05)."""
        seed = 0 if seed is None else seed
        if not isinstance(seed, int):
            raise ValueError(f"seed must be an int or None, got {seed!r}")
        self._rng = (seed ^ 0x9E3779B97F4A7C15) & _MASK64
        self._x = [self._random() * 0.1 - 0.05 for _ in range(4)]
        self._t = 0
        self._done = False
        self._static_sent = False
        return list(self._x), {"t": 0}

    def step(self, action: int | float) -> tuple[list[float], float, bool, bool, dict[str, Any]]:
        """Push the cart for one 0.02 s step."""
        if self._done:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        if isinstance(action, float) and action.is_integer():
            action = int(action)
        if isinstance(action, bool) or action not in (0, 1):
            raise ValueError(f"action must be 0 (left) or 1 (right), got {action!r}")
        x, x_dot, theta, theta_dot = self._x
        force = FORCE if action == 1 else -FORCE
        sin, cos = sin_cos(theta)
        temp = (force + POLE_MASS_LENGTH * theta_dot * theta_dot * sin) / TOTAL_MASS
        theta_acc = (GRAVITY * sin - cos * temp) / (
            HALF_LENGTH * (4.0 / 3.0 - POLE_MASS * cos * cos / TOTAL_MASS)
        )
        x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos / TOTAL_MASS
        x += TAU * x_dot
        x_dot += TAU * x_acc
        theta += TAU * theta_dot
        theta_dot += TAU * theta_acc
        self._x = [x, x_dot, theta, theta_dot]
        self._t += 1
        terminated = x < -X_LIMIT or x > X_LIMIT or theta < -THETA_LIMIT or theta > THETA_LIMIT
        truncated = self._t >= self.max_steps and not terminated
        self._done = terminated or truncated
        return list(self._x), 1.0, terminated, truncated, {"t": self._t}

    def get_state(self) -> dict[str, Any]:
        """JSON-safe state; ``set_state`` of it continues bit-identically."""
        return {
            "version": STATE_VERSION,
            "config": {"max_steps": self.max_steps},
            "x": list(self._x),
            "t": self._t,
            "rng": self._rng,
            "done": self._done,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from ``get_state`` (also after a JSON round trip)."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ValueError(f"not a cartpole state (version {STATE_VERSION}): {state!r:.80}")
        if state["config"] != {"max_steps": self.max_steps}:
            raise ValueError(f"state was made with config {state['config']!r}")
        self._x = [float(v) for v in state["x"]]
        self._t = int(state["t"])
        self._rng = int(state["rng"]) & _MASK64
        self._done = bool(state["done"])
        self._static_sent = False

    def render(self) -> list[dict[str, Any]]:
        """Track (permanent), cart, wheels, pole and step counter, in relative coordinates."""
        objects: list[dict[str, Any]] = []
        ground = 0.7
        if not self._static_sent:
            objects += [
                {"type": "rect", "id": "sky", "x": 0, "y": 0, "w": 1, "h": 1, "fill": "#f4f8ff"},
                {"type": "line", "id": "track", "points": [[0, ground], [1, ground]]}
                | {"color": "#404040", "width": 3, "depth": 1},
            ]
            for limit in (-X_LIMIT, X_LIMIT):
                cx = 0.5 + limit / WORLD_WIDTH
                objects.append(
                    {"type": "line", "id": f"limit{limit:+}", "points": [[cx, 0.62], [cx, 0.78]]}
                    | {"color": "#c04040", "width": 2, "depth": 1}
                )
            for obj in objects:
                obj["permanent"] = True
            self._static_sent = True
        x, _, theta, _ = self._x
        cx = 0.5 + x / WORLD_WIDTH
        aspect = RENDER_SIZE[0] / RENDER_SIZE[1]
        sin, cos = sin_cos(theta)
        pole = 2 * HALF_LENGTH / WORLD_WIDTH
        axle_y = ground - 0.06
        tip = [cx + sin * pole, axle_y - cos * pole * aspect]
        objects += [
            {"type": "rect", "id": "cart", "x": cx, "y": axle_y, "w": 0.5 / WORLD_WIDTH}
            | {"h": 0.06, "anchor": [0.5, 0.5], "fill": "#303030", "depth": 2},
            {"type": "circle", "id": "wheel_l", "x": cx - 0.03, "y": ground - 0.02}
            | {"radius": 0.02, "fill": "#808080", "depth": 3},
            {"type": "circle", "id": "wheel_r", "x": cx + 0.03, "y": ground - 0.02}
            | {"radius": 0.02, "fill": "#808080", "depth": 3},
            {"type": "line", "id": "pole", "points": [[cx, axle_y], tip]}
            | {"color": "#c88040", "width": 10, "depth": 4},
            {"type": "circle", "id": "axle", "x": cx, "y": axle_y, "radius": 0.012}
            | {"fill": "#6080c0", "depth": 5},
            {"type": "text", "id": "steps", "text": f"Steps: {self._t}", "x": 0.02, "y": 0.03}
            | {"size": 22, "color": "#202020", "depth": 6},
        ]
        return objects


def make_env(**config: Any) -> CartPoleEnv:
    """Build the env; config: ``max_steps`` (default 500)."""
    return CartPoleEnv(**config)
