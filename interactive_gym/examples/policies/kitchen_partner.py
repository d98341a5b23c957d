"""A scripted kitchen partner: ``policy(observation, agent_id) -> action`` for the kitchen env.

Stateless: each call reads the observation, picks the next job (serve a soup, fetch a dish for
a soup that is cooking, or bring an ingredient an open order still needs), finds the shortest
path to a free cell next to the tile for that job (the other cook counts as a wall) and returns
one step of it, a turn, or interact when it faces that tile. Standard library only.
"""

from __future__ import annotations

from collections import deque
from typing import Any

STAY, UP, DOWN, LEFT, RIGHT, INTERACT = range(6)
#: (dx, dy, move action, facing) for the four directions, in search order.
DIRECTIONS = ((0, -1, UP, 0), (0, 1, DOWN, 1), (-1, 0, LEFT, 2), (1, 0, RIGHT, 3))
SOURCES = {"onion": "O", "tomato": "T", "dish": "D"}

Cell = tuple[int, int]


def policy(observation: dict[str, Any], agent_id: int) -> int:
    """The partner's action (0 stay, 1-4 move/turn, 5 interact) for this observation."""
    goals = _goal_tiles(observation)
    if not goals:
        return STAY
    return _step_towards(observation, goals, agent_id)


def _tiles(layout: list[str], kind: str) -> list[Cell]:
    return [(x, y) for y, row in enumerate(layout) for x, tile in enumerate(row) if tile == kind]


def _counters_with(observation: dict[str, Any], item: str) -> list[Cell]:
    return [
        (int(k.split(",")[0]), int(k.split(",")[1]))
        for k, v in observation["counters"].items()
        if v == item
    ]


def _free_counters(observation: dict[str, Any]) -> list[Cell]:
    taken = observation["counters"]
    return [c for c in _tiles(observation["layout"], "X") if f"{c[0]},{c[1]}" not in taken]


def _still_needed(pot: dict[str, Any], orders: list[list[str]]) -> list[str]:
    """Ingredients the pot needs for the first open order it can still become."""
    have = list(pot["ingredients"])
    for order in orders:
        rest = list(order)
        if all(rest.count(i) >= have.count(i) for i in set(have)):
            for i in have:
                rest.remove(i)
            return rest
    return ["onion"] * (3 - len(have))  # no order fits: finish the pot to empty it


def _goal_tiles(observation: dict[str, Any]) -> list[Cell]:
    """Tiles to interact with next, in order of preference."""
    layout = observation["layout"]
    holding = observation["self"]["holding"]
    other = observation["other"]["holding"]
    pots = observation["pots"]
    ready = [tuple(p["pos"]) for p in pots if p["cook_left"] == 0]
    cooking = [tuple(p["pos"]) for p in pots if p["cook_left"] > 0]
    filling = [p for p in pots if p["cook_left"] < 0]
    if holding is not None and holding.startswith("soup:"):
        return _tiles(layout, "S")
    if holding == "dish":
        return ready or cooking or _free_counters(observation)
    if holding in ("onion", "tomato"):
        wanted = [
            tuple(p["pos"]) for p in filling if holding in _still_needed(p, observation["orders"])
        ]
        return wanted or _free_counters(observation)
    if holding is not None:
        return _free_counters(observation)
    if (ready or cooking) and other != "dish" and not (other or "").startswith("soup:"):
        return _counters_with(observation, "dish") + _tiles(layout, "D")
    for pot in filling:
        needed = _still_needed(pot, observation["orders"])
        if other in needed:
            needed.remove(other)
        if needed:
            item = needed[0]
            return _counters_with(observation, item) + _tiles(layout, SOURCES[item])
    return []


def _step_towards(observation: dict[str, Any], goals: list[Cell], agent_id: int) -> int:
    layout = observation["layout"]
    me = observation["self"]
    x, y = me["pos"]
    for dx, dy, move, facing in DIRECTIONS:
        if (x + dx, y + dy) in goals:
            return INTERACT if me["facing"] == facing else move
    other = tuple(observation["other"]["pos"])
    direct = _first_step(layout, (x, y), set(goals), set())
    around = _first_step(layout, (x, y), set(goals), {other})
    if around != direct and (observation["t"] * 7 + agent_id * 3) % 5 < 2:
        return STAY  # the other cook is in the way: sometimes wait, so two cooks never mirror
    first = around or direct
    if first is None:
        return STAY
    for dx, dy, move, _ in DIRECTIONS:
        if (x + dx, y + dy) == first:
            return move
    return STAY


def _first_step(layout: list[str], start: Cell, goals: set[Cell], walls: set[Cell]) -> Cell | None:
    """First cell of a shortest floor path from start to a cell next to a goal, or None."""
    came: dict[Cell, Cell | None] = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell != start and any(
            (cell[0] + dx, cell[1] + dy) in goals for dx, dy, _, _ in DIRECTIONS
        ):
            while came[cell] != start:
                cell = came[cell]  # type: ignore[assignment]
            return cell
        for dx, dy, _, _ in DIRECTIONS:
            nxt = (cell[0] + dx, cell[1] + dy)
            if nxt not in came and nxt not in walls and layout[nxt[1]][nxt[0]] == " ":
                came[nxt] = cell
                queue.append(nxt)
    return None
