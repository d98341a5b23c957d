"""The human input of a game the server runs: each human agent's ``game:input`` between ticks.

A game keeps one :class:`InputSlot` per human agent (one for a participant's own game, one per
member for a group's: ``group_game.py``); at each tick :meth:`InputSlot.take` gives the
agent's action (``input_mode="held"``: the latest key state; ``"pressed"``: a press counts for
one tick, then ``default_action``), the keys that chose it and the key events since the last
tick. The other half: ``game_clock.py`` takes them at every tick.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from interactive_gym.study import GymScene

#: Most inputs kept between two ticks (a flood only keeps the newest).
MAX_INPUTS_PER_TICK = 64


@dataclass
class Input:
    """One ``game:input``: the human's action after a key change."""

    seq: int
    action: Any
    keys: str
    t: float
    type: str | None = None
    key: str | None = None


@dataclass
class Taken:
    """What one human agent's inputs gave a tick: the action, the keys that chose it, the key
    events since the last tick, the latest ``seq`` applied, and whether its tab was hidden."""

    action: Any
    keys: str
    events: list[list[Any]]
    seq: int
    hidden: bool


class InputSlot:
    """The ``game:input`` of one human agent between two ticks (a game has one per human)."""

    def __init__(self) -> None:
        self.inputs: list[Input] = []
        self.latest: Input | None = None
        self.seq = -1
        self.hidden = False

    def give(self, given: Input) -> None:
        """A new action (older sequence numbers than the latest are ignored)."""
        if given.seq <= self.seq:
            return
        self.seq = given.seq
        self.latest = given
        if len(self.inputs) >= MAX_INPUTS_PER_TICK:
            del self.inputs[0]
        self.inputs.append(given)

    def clear(self) -> None:
        """A new episode: no key counts from the last one."""
        self.inputs.clear()
        self.latest = None

    def reset(self) -> None:
        """A new connection numbers its inputs from 1 again; the old one's are gone."""
        self.clear()
        self.seq = -1

    def take(self, scene: GymScene, default_key: str) -> Taken:
        """The tick's action (``input_mode="pressed"``: a press counts for one tick)."""
        inputs, self.inputs = self.inputs, []
        events = [[i.type or "input", i.key if i.key is not None else i.keys, i.t] for i in inputs]
        default = scene.default_action
        if self.hidden:
            return Taken(default, "", events, self.seq, True)
        pressed = next((i for i in reversed(inputs) if canonical(i.action) != default_key), None)
        latest = self.latest
        if scene.input_mode == "held" and latest is not None:
            if canonical(latest.action) != default_key or pressed is None:
                return Taken(latest.action, latest.keys, events, self.seq, False)
        if pressed is not None:
            return Taken(pressed.action, pressed.keys, events, self.seq, False)
        return Taken(default, "", events, self.seq, False)


def canonical(action: Any) -> str:
    """An action as comparable text (actions may be numbers or lists)."""
    return json.dumps(action, sort_keys=True, separators=(",", ":"))
