"""What the columns of game records mean: ``steps_<scene>``, ``episodes`` and ``inputs``.

Part of the codebook (:mod:`interactive_gym.data.codebook`, which makes these texts its tables'
docs): the fixed columns of the game tables, and the keys of the records' ``data`` that
interactive_gym writes (the other halves: ``server/static/js/game/record.js``,
``server/game_records.py``, ``server/group_clock.py``, ``server/net_log.py``,
``static/js/game/socket_channel.js`` and ``net_channel.js``). A key a game writes without a
meaning here is found by tests/python/test_data_package.py.
"""

from __future__ import annotations

from dataclasses import dataclass

BROWSER_MS = "ms since 1970, UTC"


@dataclass(frozen=True)
class PerAgent:
    """Columns named ``<prefix><agent>``, one per agent: ``meaning`` with ``{agent}``."""

    prefix: str
    meaning: str
    #: The meaning of the pattern itself, for docs/data.md.
    summary: str


#: ``group_id`` of the tables of records, in exports with groups.
GROUP_COLUMN = (
    "the group the row belongs to, in exports with groups (else no such column): a group "
    "game's own rows have `participant_id` empty and `group_id` the group; a member's own "
    "records of one of their group's scenes have both; every other row has it empty"
)
OWNER = "who made the record (empty for a group game's own rows: see `group_id`)"

#: Keys of a step record's data, in every game (docs/game.md, docs/server-runtime.md,
#: docs/netcode.md describe how they are made).
STEP_DATA = {
    "action": "the action the agent took (single-agent envs; multi-agent: `action_<agent>`)",
    "reward": "the step's reward (when the env returns one reward; else `reward_<agent>`)",
    "terminated": "whether the episode ended at this step (for per-agent dicts: `__all__`, "
    "else all agents)",
    "truncated": "whether the episode was cut short at this step (for per-agent dicts: "
    "`__all__`, else all agents); also true at `max_steps`",
    "keys": "the mapped keys that chose the human's action, e.g. `ArrowUp+ArrowLeft`; empty: "
    "`default_action`",
    "key_events": "every keydown/keyup of a mapped key since the previous tick: `[[type, key, "
    "t], …]`, type `down`, `up` or `release` (focus lost), `t` the event's `timeStamp` (ms of "
    "the page's clock)",
    "info": 'the step\'s info, JSON-safe (NaN and infinities become the strings `"NaN"`, '
    '`"Infinity"`)',
    "tick_t": "when the tick started, in ms of the page's clock (`performance.now()`; on the "
    "server runtime, of the server's clock since the game was opened)",
    "tick_late_ms": "how long after its slot the tick started (ms)",
    "dropped_ticks": "slots skipped just before this tick",
    "worker_ms": "time the tick spent in the worker (policies, step, render, HUD), in ms; on "
    "the server runtime, in the env process",
    "env_ms": "of which in the environment (`step` + `render`), in ms",
    "policy_ms": "of which choosing the AI agents' actions, in ms",
    "round_trip_ms": "from sending the tick to receiving the reply, on the page (server "
    "runtime: the env pool's request as the server saw it), in ms",
    "draw_ms": "drawing the frame, in ms (empty when drawing failed, and on the server runtime)",
    "focus": "`focused`, `blurred` (visible, another window has focus) or `hidden` (in a "
    "group game: `hidden` when any member's tab was)",
    "runtime": "`browser` (the env ran in the page) or `server` (it ran on the server)",
    "observation": "the observation after the step, with `record_observations=True`",
    "input_seq": "server runtime: the `seq` of the last input the step applied (-1 before the "
    "first; see `inputs`)",
    "state_hash": "the hash of the environment's state right after the step (16 hex "
    "characters): with the scene's `record_state_hash_every=K`, of the env's `get_state()` on "
    "steps K-1, 2K-1, … and on the episode's last step; in browser group games, of the whole "
    "game state on the frames the members hash; empty on the other steps",
    "group_id": "group games: the group that played the step (as the `group_id` column)",
    "prev_fanout_ms": "server-runtime group games: the previous frame's fan-out, in ms from the "
    "env's reply until the frame was handed to every member's socket",
    "netcode": "browser group games: `rollback` or `lockstep`",
    "agreed": "browser group games: true when every member's report of the frame matched the "
    "others (actions, rewards, flags, hash) and the server's inputs; false otherwise (or "
    "without reports)",
    "reports": "browser group games: how many members' reports the row was made from",
}
STEP_PER_AGENT = (
    PerAgent(
        "action_",
        "the action agent {agent} took",
        "the action each agent took (multi-agent envs)",
    ),
    PerAgent(
        "reward_",
        "agent {agent}'s reward at this step",
        "each agent's reward, when the env returns per-agent rewards",
    ),
    PerAgent(
        "participant_",
        "who gave agent {agent}'s input: a participant id, `default` when filled while they "
        "were away, `stand_in` when an AI played it",
        "group games, per human agent: who gave its input (a participant id, `default` when "
        "filled while away, `stand_in` when an AI played it)",
    ),
    PerAgent(
        "keys_",
        "the mapped keys that chose agent {agent}'s action (as `keys`)",
        "group games, per human agent: the keys that chose its action (as `keys`)",
    ),
    PerAgent(
        "key_events_",
        "agent {agent}'s key events since the previous tick (as `key_events`)",
        "group games, per human agent: its key events (as `key_events`)",
    ),
    PerAgent(
        "input_seq_",
        "the `seq` of the last input of agent {agent} the step applied (as `input_seq`)",
        "server-runtime group games, per human agent: as `input_seq`",
    ),
)

STEP_ABOUT = (
    "One table per game scene (the scene id, with characters other than letters, digits, "
    "`_`, `.` and `-` replaced by `_`), one row per step, in the order the steps were taken."
)
STEP_ABOUT_ONE = (
    "The steps of game scene {scene}: one row per step, in the order the steps were taken."
)
STEP_MEANINGS = {
    "participant_id": OWNER,
    "group_id": GROUP_COLUMN,
    "scene_id": "the game scene",
    "episode": "episode number, from 0",
    "attempt": "the run of the scene: 1 the first time the participant's browser started "
    "it, 2, 3, … after a reload restarted it. `(participant_id, episode, attempt, step)` "
    "identifies a row: two runs of one episode are never mixed",
    "step": "step number within the episode, from 0",
    "t": f"when the step was recorded ({BROWSER_MS}; the browser's clock, or the server's "
    "for games it runs)",
}

EPISODE_DATA = {
    "seed": "the episode's seed (the env was reset with it)",
    "return": "the human agent's return, as the HUD's score (group games: every agent's "
    "rewards summed)",
    "returns": "each agent's return (JSON object `{agent: sum}`; multi-agent envs)",
    "length": "the number of steps",
    "terminated": "whether the episode's last step terminated it",
    "truncated": "whether the episode's last step truncated it",
    "ended_by": "how the episode ended: `terminated`, `truncated`, `max_steps`, `error`, "
    "`stopped`, or on the server runtime `disconnected`, in group games `member_left`",
    "duration_ms": "how long the episode took, in ms (server runtime: from its reset)",
    "ticks": "ticks of the episode",
    "late_ticks": "ticks that started late",
    "dropped_ticks": "slots skipped",
    "hidden_steps": "steps taken while the tab was hidden",
    "fps": "the scene's ticks per second",
    "runtime": "`browser` or `server`, as in the step tables",
    "input_seq": "server runtime: the `seq` of the last input the episode applied",
    "group_id": "group games: the group that played the episode (as the `group_id` column)",
    "netcode": "browser group games: `rollback` or `lockstep`",
    "desyncs": "browser group games: how many frames the members' state hashes differed on",
}
EPISODE_PER_AGENT = (
    PerAgent(
        "participant_",
        "who played agent {agent} at the episode's end (a participant id, `default`, `stand_in`)",
        "group games, per human agent: who played it at the episode's end",
    ),
    PerAgent(
        "input_seq_",
        "the `seq` of the last input of agent {agent} the episode applied",
        "server-runtime group games, per human agent: as `input_seq`",
    ),
)

EPISODE_ABOUT = (
    "One row per episode summary: the run it summarises, the server's replay verdict of "
    "that run (`verified`, `verify_reason`; see `verifications`), then one column per key of "
    "the summary's `data` (named as in the step tables)."
)
EPISODE_MEANINGS = {
    "participant_id": OWNER,
    "group_id": GROUP_COLUMN,
    "scene_id": "the game scene",
    "episode": "episode number, from 0",
    "attempt": "the run of the scene the episode was played in (as in the step tables)",
    "t": f"when the summary was recorded ({BROWSER_MS}; the browser's clock, or the "
    "server's for games it runs)",
    "verified": "the server's replay of this run: `True` it replayed as recorded, `False` "
    "it did not, empty when it was not checked (see `verifications`)",
    "verify_reason": "why `verified` is not `True` (the replay's reason)",
}

INPUT_DATA = {
    "type": "server runtime: the key change, `down`, `up` or `release` (focus lost)",
    "key": "server runtime: the key",
    "t": "server runtime: the key event's `timeStamp` (ms of the page's clock)",
    "action": "the action the keys down chose, sent to the server (browser group games: the "
    "member's input made this tick, for frame n + D; empty while the page waits)",
    "seq": "server runtime: the input's sequence number in the episode (the step rows' "
    "`input_seq` names the last one each step applied)",
    "frame": "browser group games: the frame the member's input of this tick is for (empty "
    "while the page waits)",
    "keys": "browser group games: the keys of the member's input this tick",
    "key_events": "browser group games: the key events of the member's input this tick",
    "shown_frame": "browser group games: the frame drawn",
    "confirmed_frame": "browser group games: the last frame all inputs were known for",
    "predicted": "browser group games: frames of the drawn state past the confirmed frame",
    "rollback_frames": "browser group games: frames simulated again this tick",
    "prediction_misses": "browser group games: remote inputs heard this tick that differed "
    "from their prediction",
    "stalled_ms": "browser group games: time this tick waited at the prediction window "
    "(lockstep: for the inputs), in ms",
    "adv": "browser group games: the page's frame advantage over the slowest member",
    "sync_delay_ms": "browser group games: how much the loop slowed to let the slowest member "
    "catch up, in ms",
    "tick_t": STEP_DATA["tick_t"],
    "tick_late_ms": STEP_DATA["tick_late_ms"],
    "worker_ms": STEP_DATA["worker_ms"],
    "draw_ms": STEP_DATA["draw_ms"],
    "focus": STEP_DATA["focus"],
    "runtime": STEP_DATA["runtime"],
    "netcode": STEP_DATA["netcode"],
}

INPUT_ABOUT = (
    'The participant\'s key changes in games the server runs (`runtime="server"`, see '
    "docs/server-runtime.md), and one row per tick of a browser group game (see "
    "docs/netcode.md), as the page recorded them. Only in exports that hold such records."
)
INPUT_MEANINGS = {
    "participant_id": "who made the input",
    "group_id": GROUP_COLUMN,
    "scene_id": "the game scene",
    "episode": "episode number, from 0",
    "attempt": "the run of the scene (as in the step tables)",
    "step": "the step of the latest frame shown when the input was made (empty before the first)",
    "t": f"when the page recorded the input ({BROWSER_MS})",
}
