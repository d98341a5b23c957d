"""A simple physics_duel opponent: ``policy(observation, agent_id) -> action``.

It tracks the puck: while the puck is in its own half it gets behind the puck (between the
puck and its own goal) and drives through it towards the other goal; otherwise it guards its
goal at the puck's height. ``speed`` below 1 makes it hesitate on some steps (an easier
opponent). Standard library only, so it runs inside Pyodide next to the env.
"""

from __future__ import annotations

WIDTH, HEIGHT = 5.0, 3.0  # table size in world units (observations are scaled by these)
DEAD_ZONE = 0.05
#: Action for each (sign of dx, sign of dy), matching physics_duel.ACTION_DIRECTIONS.
ACTIONS = {
    (0, 0): 0,
    (0, -1): 1,
    (0, 1): 2,
    (-1, 0): 3,
    (1, 0): 4,
    (-1, -1): 5,
    (1, -1): 6,
    (-1, 1): 7,
    (1, 1): 8,
}


def policy(observation: list[float], agent_id: int, speed: float = 1.0) -> int:
    """The action (0-8) that moves this agent's paddle towards where it wants to be."""
    x, y = observation[0] * WIDTH, observation[1] * HEIGHT
    px, py = observation[8] * WIDTH, observation[9] * HEIGHT
    forward = 1.0 if agent_id == 0 else -1.0  # direction of the other goal
    own_half = (px - WIDTH / 2) * forward < 0
    if own_half:
        behind = (px - x) * forward > 0.1
        if behind:
            tx, ty = px, py  # drive through the puck
        else:
            side = 0.5 if y <= py else -0.5  # go around it, then come from behind
            tx, ty = px - 0.5 * forward, py - side
    else:
        tx = WIDTH / 2 - forward * WIDTH * 0.35
        ty = py
    if speed < 1.0 and (int(px * 997 + py * 991) % 100) >= speed * 100:
        return 0
    return ACTIONS[(_sign(tx - x), _sign(ty - y))]


def _sign(d: float) -> int:
    return 0 if abs(d) < DEAD_ZONE else (1 if d > 0 else -1)
