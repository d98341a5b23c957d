"""The environment contract, written down once.

An environment a game scene plays is any object with Gymnasium's ``reset`` and ``step``; the
rest is optional and discovered at run time (``env_host.EnvHost`` checks for it):

- ``render()`` returns a draw list (see ``interactive_gym.draw``) or an ``rgb_array`` frame
  (height × width × 3, uint8 values 0–255);
- ``possible_agents`` makes it multi-agent (PettingZoo's parallel API): actions, rewards,
  ``terminated``, ``truncated`` and observations are then dicts keyed by agent;
- ``num_actions`` or a Discrete ``action_space`` (``.n``; PettingZoo's ``action_space(agent)``)
  gives the number of discrete actions;
- ``get_state()``/``set_state(state)`` (plain data) let the runtime snapshot and restore it;
- ``render_size`` (width, height) sizes the canvas before the first frame.

The same contract holds on both runtimes: the browser's Pyodide worker and the server's env
worker processes run it through the same :class:`~interactive_gym.runtime.env_host.EnvHost`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

#: What ``step`` returns: observation, reward, terminated, truncated, info.
StepResult = tuple[Any, Any, Any, Any, Any]


@runtime_checkable
class Env(Protocol):
    """The two methods every environment has (Gymnasium's API)."""

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        """Start an episode; return ``(observation, info)``."""
        ...

    def step(self, action: Any) -> StepResult:
        """Advance one step with ``action`` (a dict of actions by agent when multi-agent)."""
        ...


@runtime_checkable
class Renderable(Protocol):
    """An environment that draws itself: a draw list or an ``rgb_array`` frame."""

    def render(self) -> Any:
        """The current frame."""
        ...


@runtime_checkable
class Snapshottable(Protocol):
    """An environment whose state can be taken and given back as plain data."""

    def get_state(self) -> Any:
        """The whole state, as plain data (dicts, lists, numbers, strings, booleans, None)."""
        ...

    def set_state(self, state: Any) -> None:
        """Restore a state :meth:`get_state` returned."""
        ...
