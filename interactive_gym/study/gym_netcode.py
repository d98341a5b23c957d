"""The netcode options of a GymScene: how a group game in the browser keeps its members in step.

A group game (2+ ``"human"`` agents) with ``runtime="browser"`` runs the environment in every
member's own Pyodide worker. The server relays and sequences the members' inputs (the
confirmed input log) and never runs the env; each page predicts the inputs it has not heard yet
and rolls back when they differ (docs/netcode.md). The page's half is
``static/js/game/net_channel.js`` and ``game/rollback.js``; the server's ``server/net_game.py``.

- ``netcode="rollback"`` (default): the env must implement ``get_state()``/``set_state(state)``
  and be deterministic given its seed and actions (checked when the scene loads);
- ``netcode="lockstep"``: every frame waits for every member's input (after the input delay);
  no state snapshots are needed, only determinism.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from interactive_gym.study.errors import StudyError
from interactive_gym.study.onnx_policy import OnnxPolicy
from interactive_gym.study.options import check_int, describe

NETCODES = ("rollback", "lockstep")
DEFAULT_INPUT_DELAY_FRAMES = 2
DEFAULT_MAX_PREDICTION_FRAMES = 8
DEFAULT_HASH_EVERY_FRAMES = 5


class NetcodeOptions(NamedTuple):
    """The checked netcode options of one GymScene (None: not a browser group game)."""

    netcode: str | None
    input_delay_frames: int | None
    max_prediction_frames: int | None
    hash_every_frames: int | None

    def to_client(self) -> dict[str, Any]:
        """What the page needs (nothing for a game that is not a browser group game)."""
        if self.netcode is None:
            return {}
        return {
            "netcode": self.netcode,
            "input_delay_frames": self.input_delay_frames,
            "max_prediction_frames": self.max_prediction_frames,
            "hash_every_frames": self.hash_every_frames,
        }


def check_netcode_options(
    where: str,
    runtime: str,
    humans: Sequence[str],
    agents: Mapping[str, Any],
    *,
    netcode: object,
    input_delay_frames: object,
    max_prediction_frames: object,
    hash_every_frames: object,
) -> NetcodeOptions:
    """Check the netcode options; they apply to group games (2+ humans) in the browser only."""
    given = {
        "netcode": netcode,
        "input_delay_frames": input_delay_frames,
        "max_prediction_frames": max_prediction_frames,
        "hash_every_frames": hash_every_frames,
    }
    if len(humans) < 2 or runtime != "browser":
        for name, value in given.items():
            if value is not None:
                why = (
                    "this one runs on the server (runtime='server')"
                    if len(humans) >= 2
                    else "this scene has fewer than 2 'human' agents"
                )
                raise StudyError(
                    where,
                    f"{name} applies to group games in the browser only; {why}",
                    f"leave {name} out of this scene",
                )
        return NetcodeOptions(None, None, None, None)
    onnx = [k for k, a in agents.items() if isinstance(a, OnnxPolicy)]
    if onnx:
        raise StudyError(
            where,
            f"agents[{onnx[0]!r}] is an OnnxPolicy; a group game in the browser replays frames "
            "when inputs arrive late, which ONNX agents cannot do yet",
            "use a PythonPolicy or 'random' for this agent, or runtime='server'",
        )
    mode = "rollback" if netcode is None else netcode
    if mode not in NETCODES:
        raise StudyError(
            where,
            f"netcode must be 'rollback' or 'lockstep', got {describe(netcode)}",
            "use 'rollback' (predict the others' inputs) or 'lockstep' (wait for them)",
        )
    delay = check_int(
        where,
        "input_delay_frames",
        DEFAULT_INPUT_DELAY_FRAMES if input_delay_frames is None else input_delay_frames,
        minimum=0,
        maximum=10,
    )
    window = check_int(
        where,
        "max_prediction_frames",
        DEFAULT_MAX_PREDICTION_FRAMES if max_prediction_frames is None else max_prediction_frames,
        minimum=1,
        maximum=30,
    )
    if mode == "lockstep":
        if max_prediction_frames is not None:
            raise StudyError(
                where,
                "max_prediction_frames applies to netcode='rollback' only (lockstep never "
                "predicts)",
                "leave max_prediction_frames out, or use netcode='rollback'",
            )
        window = 0
    every = check_int(
        where,
        "hash_every_frames",
        DEFAULT_HASH_EVERY_FRAMES if hash_every_frames is None else hash_every_frames,
        minimum=1,
        maximum=120,
    )
    return NetcodeOptions(str(mode), delay, window, every)
