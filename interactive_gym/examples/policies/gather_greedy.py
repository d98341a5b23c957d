"""A gather player heading for the nearest coin: ``policy(observation, agent_id) -> action``.

Standard library only; stateless (ties go to the first coin listed).
"""

from __future__ import annotations

from typing import Any

STAY, UP, DOWN, LEFT, RIGHT = range(5)


def policy(observation: dict[str, Any], agent_id: int) -> int:
    x, y = observation["me"]
    coins = observation["coins"]
    if not coins:
        return STAY
    tx, ty = min(coins, key=lambda c: abs(c[0] - x) + abs(c[1] - y))
    if tx != x:
        return RIGHT if tx > x else LEFT
    if ty != y:
        return DOWN if ty > y else UP
    return STAY
