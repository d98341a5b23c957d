"""Kitchen: a cooperative grid world where two cooks fill pots, plate soups and serve orders.

Pure Python (standard library only) so it runs unchanged in Pyodide. PettingZoo-style
parallel API with integer agent ids: agent 0 is the person, agent 1 the AI partner (see
``interactive_gym/examples/policies/kitchen_partner.py``).

- ``reset(seed=None, options=None) -> (observations, infos)``; ``step({0: a0, 1: a1})`` returns
  ``(observations, rewards, terminated, truncated, infos)``, all dicts keyed by agent id;
  ``terminated``/``truncated`` also carry ``"__all__"``. Keys ``"0"``/``"1"`` are accepted too.
- Actions: 0 stay, 1 up, 2 down, 3 left, 4 right, 5 interact (with the tile faced).
  Moving turns the cook; it steps only onto free floor not taken by the other cook.
- Tiles (``LAYOUT``): ``X`` counter (put down / pick up anything), ``O`` onions, ``T`` tomatoes,
  ``D`` dishes, ``P`` pot (takes 3 ingredients, then cooks for ``cook_time`` steps; a dish
  takes the soup out), ``S`` serving window, space floor.
- Two orders are open at a time, each a recipe of three ingredients; serving a soup that
  matches one gives both cooks ``order_reward`` and opens a new order. Never terminates; is
  truncated after ``max_steps`` steps.
- Observation (same layout for both, JSON-safe): ``{"layout", "self", "other", "pots",
  "counters", "orders", "t", "steps_left"}``; a cook is ``{"pos": [x, y], "facing": 0-3,
  "holding": item or None}`` with facing 0 up, 1 down, 2 left, 3 right. Items are
  ``"onion"``, ``"tomato"``, ``"dish"`` or ``"soup:<ingredients joined by +, sorted>"``.
- ``get_state()``/``set_state()`` use JSON-safe values; a restored env continues identically.
"""

from __future__ import annotations

from typing import Any

LAYOUT = (
    "XXXPXPXXX",
    "O       T",
    "X  XXX  X",
    "D       X",
    "XXXSXSXXX",
)
STARTS = ((2, 1), (6, 3))
RECIPES = (
    ("onion", "onion", "onion"),
    ("tomato", "tomato", "tomato"),
    ("onion", "onion", "tomato"),
)
MOVES = ((0, 0), (0, -1), (0, 1), (-1, 0), (1, 0))
#: Offset of the tile in front of a cook, by facing (0 up, 1 down, 2 left, 3 right).
FACING = ((0, -1), (0, 1), (-1, 0), (1, 0))
INTERACT = 5
DISPENSERS = {"O": "onion", "T": "tomato", "D": "dish"}
COLORS = {"onion": "#e8d87a", "tomato": "#d83a2a", "dish": "#f4f4f4", "soup": "#c8802a"}
COOK_COLORS = ("#3070e0", "#30a050")
STATE_VERSION = 1
_MASK64 = (1 << 64) - 1
ROWS = len(LAYOUT) + 1  # one extra row on top for orders and score
COLS = len(LAYOUT[0])
RENDER_SIZE = (COLS * 80, ROWS * 80)


def soup_of(ingredients: list[str]) -> str:
    """The item name of a soup made of these ingredients."""
    return "soup:" + "+".join(sorted(ingredients))


class KitchenEnv:
    """Two cooks, two pots, orders to serve. See the module docstring for the API."""

    possible_agents: list[int] = [0, 1]
    num_actions = 6
    render_size = RENDER_SIZE

    def __init__(self, max_steps: int = 900, cook_time: int = 40, order_reward: float = 20.0):
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
        if not isinstance(cook_time, int) or cook_time < 0:
            raise ValueError(f"cook_time must be an int >= 0, got {cook_time!r}")
        self.max_steps = max_steps
        self.cook_time = cook_time
        self.order_reward = float(order_reward)
        self.pot_cells = [
            (x, y) for y, row in enumerate(LAYOUT) for x, c in enumerate(row) if c == "P"
        ]
        self.agents: list[int] = []
        self._state: dict[str, Any] = {}
        self._static_sent = False

    def _random(self) -> float:
        s = self._state
        s["rng"] = (s["rng"] * 6364136223846793005 + 1442695040888963407) & _MASK64
        return (s["rng"] >> 11) / 9007199254740992.0

    def _new_order(self) -> list[str]:
        return list(RECIPES[int(self._random() * len(RECIPES))])

    # -- API -------------------------------------------------------------------------------

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
        """Start an episode; the same seed gives the same orders."""
        seed = 0 if seed is None else seed
        if not isinstance(seed, int):
            raise ValueError(f"seed must be an int or None, got {seed!r}")
        self._state = {
            "rng": (seed ^ 0x9E3779B97F4A7C15) & _MASK64,
            "t": 0,
            "cooks": [[x, y, 1, None] for x, y in STARTS],
            "pots": [{"ingredients": [], "cook_left": -1} for _ in self.pot_cells],
            "counters": {},
            "orders": [],
            "score": 0.0,
            "delivered": 0,
        }
        self._state["orders"] = [self._new_order(), self._new_order()]
        self.agents = list(self.possible_agents)
        self._static_sent = False
        return self._observations(), self._infos()

    def step(
        self, actions: dict[Any, int]
    ) -> tuple[
        dict[int, dict[str, Any]],
        dict[int, float],
        dict[int | str, bool],
        dict[int | str, bool],
        dict[int, dict[str, Any]],
    ]:
        """Advance one step: moves, then interactions (cook 0 first), then cooking."""
        s = self._state
        if not self.agents:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        chosen = [_action(actions, agent) for agent in (0, 1)]
        self._move(chosen)
        reward = 0.0
        for agent in (0, 1):
            if chosen[agent] == INTERACT:
                reward += self._interact(agent)
        for pot in s["pots"]:
            if pot["cook_left"] > 0:
                pot["cook_left"] -= 1
        s["t"] += 1
        s["score"] += reward
        truncated = s["t"] >= self.max_steps
        if truncated:
            self.agents = []
        rewards = {0: reward, 1: reward}
        terminated: dict[int | str, bool] = {0: False, 1: False, "__all__": False}
        truncs: dict[int | str, bool] = {0: truncated, 1: truncated, "__all__": truncated}
        return self._observations(), rewards, terminated, truncs, self._infos()

    def get_state(self) -> dict[str, Any]:
        """A JSON-safe copy of everything needed to continue exactly."""
        s = self._state
        return {
            "version": STATE_VERSION,
            "config": self._config(),
            "rng": s["rng"],
            "t": s["t"],
            "cooks": [list(c) for c in s["cooks"]],
            "pots": [
                {"ingredients": list(p["ingredients"]), "cook_left": p["cook_left"]}
                for p in s["pots"]
            ],
            "counters": dict(s["counters"]),
            "orders": [list(o) for o in s["orders"]],
            "score": s["score"],
            "delivered": s["delivered"],
            "done": not self.agents,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from ``get_state`` (also after a JSON round trip)."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ValueError(f"not a kitchen state (version {STATE_VERSION}): {state!r:.80}")
        if state["config"] != self._config():
            raise ValueError(
                f"state was made with config {state['config']!r}, this env has {self._config()!r}"
            )
        self._state = {
            "rng": int(state["rng"]) & _MASK64,
            "t": int(state["t"]),
            "cooks": [[int(c[0]), int(c[1]), int(c[2]), c[3]] for c in state["cooks"]],
            "pots": [
                {"ingredients": list(p["ingredients"]), "cook_left": int(p["cook_left"])}
                for p in state["pots"]
            ],
            "counters": dict(state["counters"]),
            "orders": [list(o) for o in state["orders"]],
            "score": float(state["score"]),
            "delivered": int(state["delivered"]),
        }
        self.agents = [] if state["done"] else list(self.possible_agents)
        self._static_sent = False

    def _config(self) -> dict[str, Any]:
        return {
            "max_steps": self.max_steps,
            "cook_time": self.cook_time,
            "order_reward": self.order_reward,
        }

    # -- rules -----------------------------------------------------------------------------

    def _move(self, chosen: list[int]) -> None:
        cooks = self._state["cooks"]
        targets = []
        for agent, action in enumerate(chosen):
            x, y = cooks[agent][0], cooks[agent][1]
            if 1 <= action <= 4:
                cooks[agent][2] = action - 1
                dx, dy = MOVES[action]
                if LAYOUT[y + dy][x + dx] == " ":
                    x, y = x + dx, y + dy
            targets.append((x, y))
        here = [(c[0], c[1]) for c in cooks]
        if targets[0] == targets[1] and targets[0] != here[0] and targets[1] != here[1]:
            yields = 1 - self._state["t"] % 2  # both step into one cell: take turns by step
            targets[yields] = here[yields]
        if targets[0] == here[1] and targets[1] == here[0]:
            targets = list(here)  # cooks cannot swap places
        for _ in range(2):
            for agent in (0, 1):
                if targets[agent] == targets[1 - agent] and targets[agent] != here[agent]:
                    targets[agent] = here[agent]  # the other cook stays in that cell
        for agent in (0, 1):
            cooks[agent][0], cooks[agent][1] = targets[agent]

    def _interact(self, agent: int) -> float:
        s = self._state
        cook = s["cooks"][agent]
        dx, dy = FACING[cook[2]]
        x, y = cook[0] + dx, cook[1] + dy
        tile = LAYOUT[y][x]
        holding = cook[3]
        if tile in DISPENSERS and holding is None:
            cook[3] = DISPENSERS[tile]
        elif tile == "X":
            key = f"{x},{y}"
            if holding is None and key in s["counters"]:
                cook[3] = s["counters"].pop(key)
            elif holding is not None and key not in s["counters"]:
                s["counters"][key] = holding
                cook[3] = None
        elif tile == "P":
            pot = s["pots"][self.pot_cells.index((x, y))]
            if holding in ("onion", "tomato") and pot["cook_left"] < 0:
                pot["ingredients"].append(holding)
                cook[3] = None
                if len(pot["ingredients"]) == 3:
                    pot["cook_left"] = self.cook_time
            elif holding == "dish" and pot["cook_left"] == 0:
                cook[3] = soup_of(pot["ingredients"])
                pot["ingredients"], pot["cook_left"] = [], -1
        elif tile == "S" and holding is not None and holding.startswith("soup:"):
            cook[3] = None
            for i, order in enumerate(s["orders"]):
                if soup_of(order) == holding:
                    s["orders"][i] = self._new_order()
                    s["delivered"] += 1
                    return self.order_reward
        return 0.0

    def _observations(self) -> dict[int, dict[str, Any]]:
        s = self._state
        cooks = [{"pos": [c[0], c[1]], "facing": c[2], "holding": c[3]} for c in s["cooks"]]
        shared = {
            "layout": list(LAYOUT),
            "pots": [
                {
                    "pos": list(cell),
                    "ingredients": list(p["ingredients"]),
                    "cook_left": p["cook_left"],
                }
                for cell, p in zip(self.pot_cells, s["pots"], strict=True)
            ],
            "counters": dict(s["counters"]),
            "orders": [list(o) for o in s["orders"]],
            "t": s["t"],
            "steps_left": self.max_steps - s["t"],
        }
        return {a: {"self": cooks[a], "other": cooks[1 - a], **shared} for a in (0, 1)}

    def _infos(self) -> dict[int, dict[str, Any]]:
        s = self._state
        info = {"score": s["score"], "delivered": s["delivered"], "t": s["t"]}
        return {0: dict(info), 1: dict(info)}

    # -- drawing ---------------------------------------------------------------------------

    def render(self) -> list[dict[str, Any]]:
        """The draw list: tiles are permanent (sent once per episode), the rest every frame."""
        s = self._state
        objects: list[dict[str, Any]] = []
        if not self._static_sent:
            objects.extend(_tiles())
            self._static_sent = True
        for i, (cell, pot) in enumerate(zip(self.pot_cells, s["pots"], strict=True)):
            for j, item in enumerate(pot["ingredients"]):
                objects.append(
                    _item(f"pot{i}_{j}", item, cell[0] + 0.25 + 0.25 * j, cell[1] + 0.5, 0.1)
                )
            if pot["cook_left"] >= 0:
                done = 1.0 - pot["cook_left"] / self.cook_time if self.cook_time else 1.0
                bar = {
                    "type": "rect",
                    "id": f"pot{i}_bar",
                    "x": cell[0] / COLS,
                    "y": (cell[1] + 1.9) / ROWS,
                }
                bar |= {
                    "w": done / COLS,
                    "h": 0.08 / ROWS,
                    "fill": "#40c040" if done >= 1 else "#e0a020",
                }
                objects.append(bar | {"depth": 3})
        for key, item in s["counters"].items():
            x, y = (int(v) for v in key.split(","))
            objects.append(_item(f"counter_{x}_{y}", item, x + 0.5, y + 0.5, 0.22))
        for agent, (x, y, facing, holding) in enumerate(s["cooks"]):
            dx, dy = FACING[facing]
            objects.append(_disc(f"cook{agent}", x + 0.5, y + 0.5, 0.35, COOK_COLORS[agent], 4))
            objects.append(
                _disc(f"eye{agent}", x + 0.5 + 0.25 * dx, y + 0.5 + 0.25 * dy, 0.08, "#ffffff", 5)
            )
            if holding is not None:
                objects.append(
                    _item(f"held{agent}", holding, x + 0.5 + 0.4 * dx, y + 0.5 + 0.4 * dy, 0.2, 6)
                )
        orders = "   ".join("/".join(i[0].upper() for i in o) for o in s["orders"])
        hud = f"Orders: {orders}    Served: {s['delivered']}    Time: {self.max_steps - s['t']}"
        objects.append(
            {
                "type": "text",
                "id": "hud",
                "text": hud,
                "x": 0.02,
                "y": 0.04,
                "size": 26,
                "color": "#ffffff",
                "depth": 10,
            }
        )
        return objects


def _action(actions: dict[Any, int], agent: int) -> int:
    if not isinstance(actions, dict):
        raise ValueError(f"actions must be a dict keyed by agent id, got {actions!r:.80}")
    action: object = actions.get(agent, actions.get(str(agent)))
    if isinstance(action, float) and action.is_integer():
        action = int(action)
    if isinstance(action, bool) or not isinstance(action, int) or not 0 <= action <= 5:
        raise ValueError(f"action for agent {agent} must be an int 0..5, got {action!r}")
    return action


def _disc(ident: str, cx: float, cy: float, r: float, fill: str, depth: int) -> dict[str, Any]:
    """A circle centred in grid units (row 0 of the layout is canvas row 1)."""
    return {
        "type": "circle",
        "id": ident,
        "x": cx / COLS,
        "y": (cy + 1) / ROWS,
        "radius": r / ROWS,
        "fill": fill,
        "depth": depth,
    }


def _item(ident: str, item: str, cx: float, cy: float, r: float, depth: int = 3) -> dict[str, Any]:
    kind = "soup" if item.startswith("soup:") else item
    disc = _disc(ident, cx, cy, r, COLORS[kind], depth)
    if kind in ("dish", "soup"):
        disc |= {"stroke": "#888888", "stroke_width": 2}
    return disc


TILE_COLORS = {
    "X": "#a07850",
    "O": "#e8d87a",
    "T": "#d83a2a",
    "D": "#d0d0d0",
    "P": "#404040",
    "S": "#50b050",
}
TILE_LABELS = {"O": "onions", "T": "tomatoes", "D": "dishes", "P": "pot", "S": "serve"}


def _tiles() -> list[dict[str, Any]]:
    """Permanent objects: floor, HUD band, every non-floor tile and its label."""
    objects: list[dict[str, Any]] = [
        {
            "type": "rect",
            "id": "floor",
            "x": 0,
            "y": 1 / ROWS,
            "w": 1,
            "h": 1 - 1 / ROWS,
            "fill": "#f0e6d0",
        },
        {
            "type": "rect",
            "id": "hud_band",
            "x": 0,
            "y": 0,
            "w": 1,
            "h": 1 / ROWS,
            "fill": "#303030",
        },
    ]
    for y, row in enumerate(LAYOUT):
        for x, tile in enumerate(row):
            if tile == " ":
                continue
            rect = {"type": "rect", "id": f"tile_{x}_{y}", "x": x / COLS, "y": (y + 1) / ROWS}
            rect |= {"w": 1 / COLS, "h": 1 / ROWS, "fill": TILE_COLORS[tile], "stroke": "#604830"}
            objects.append(rect | {"stroke_width": 2, "depth": 1})
            if tile in TILE_LABELS:
                label = {
                    "type": "text",
                    "id": f"label_{x}_{y}",
                    "text": TILE_LABELS[tile],
                    "size": 13,
                }
                label |= {
                    "x": (x + 0.5) / COLS,
                    "y": (y + 0.05) / ROWS + 1 / ROWS,
                    "anchor": [0.5, 0],
                }
                objects.append(
                    label | {"color": "#000000" if tile in "ODT" else "#ffffff", "depth": 2}
                )
    for obj in objects:
        obj["permanent"] = True
    return objects


def make_env(**config: Any) -> KitchenEnv:
    """Build the env; config: ``max_steps`` (900), ``cook_time`` (40), ``order_reward`` (20)."""
    return KitchenEnv(**config)
