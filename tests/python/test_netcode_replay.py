"""Replaying a group's game in the browser from the canonical rows the server writes
(``interactive_gym.replay.replay_group``), and the verdicts stored for it
(``Verifier.verify_group``, found by the export's ``episodes`` table).

Genuine rows are made the way the server makes them from what the members' workers report. A
study (``Experiment``) has browser group scenes of ``envs/gather.py``. Each member's worker is
the runtime package in CPython (``GameHost`` and ``netcode.Rollback``, built from the scene's
``client_options`` for the group's context): one member plays every frame with the confirmed
inputs, the other runs ahead predicting its partner's input and rolls back when it was wrong.
The server's input log holds every human agent's input per frame (``default_action`` for the
first ``input_delay_frames`` and while a member is away, None while a stand-in plays); each
frame's row is written from the log and the two members' reports, which must agree (as the spec
says, and once more by the server's own row writer, ``net_log.EpisodeRows``). Those rows verify;
tampered copies do not, each with a reason naming the step and the agent.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import interactive_gym
from interactive_gym.data import Chunk, Group, GroupMember, Store, validate_records
from interactive_gym.data.chunks import SERVER_GAME_SEQS
from interactive_gym.export import export
from interactive_gym.replay import EpisodeVerdict, ParticipantVerdict, replay_group
from interactive_gym.runtime import netcode
from interactive_gym.runtime.env_host import EnvHost
from interactive_gym.runtime.game_host import GameHost
from interactive_gym.server.groups import Groups
from interactive_gym.server.net_log import EpisodeRows, InputLog, Report, RowContext
from interactive_gym.server.verification import SERVER_RUNTIME, Verifier
from interactive_gym.study import (
    EndScene,
    Experiment,
    GymScene,
    ParticipantContext,
    PythonPolicy,
    StandIn,
    WaitingRoom,
)

PACKAGE = Path(interactive_gym.__file__).resolve().parent
GATHER = PACKAGE / "examples" / "envs" / "gather.py"
GREEDY = PACKAGE / "examples" / "policies" / "gather_greedy.py"
GROUP_ID = "g00000000netcode"
MEMBERS = {"0": "p-ann", "1": "p-bob"}
#: Action 4 (right) is no control.
CONTROLS = {"ArrowUp": 1, "ArrowDown": 2, "ArrowLeft": 3}
KEYS = ("", "ArrowUp", "ArrowDown", "ArrowLeft")


# -- the study ------------------------------------------------------------------------------------


def gather(scene_id: str, **options: Any) -> GymScene:
    settings: dict[str, Any] = {
        "runtime": "browser",
        "env_file": str(GATHER),
        "env_config": {"players": 3, "coins": 8, "max_steps": 600},
        "agents": {0: "human", 1: "human", 2: "random"},
        "controls": CONTROLS,
        "default_action": 0,
        "fps": 20,
        "episodes": 2,
        "max_steps": 36,
    }
    settings.update(options)
    return GymScene(scene_id, **settings)


def study(base_dir: Path) -> Experiment:
    """Rollback with a random AI; lockstep with a Python policy, an away member and a
    stand-in; and a group game the server runs."""
    return Experiment(
        "netcode_replay",
        scenes=[
            WaitingRoom("lobby"),
            gather("gather", input_delay_frames=2, hash_every_frames=5),
            gather(
                "greedy",
                agents={0: "human", 1: "human", 2: PythonPolicy(str(GREEDY))},
                netcode="lockstep",
                input_delay_frames=1,
                hash_every_frames=4,
                when_member_away="default_action",
                on_member_leave=StandIn({1: "random"}),
            ),
            gather("served", runtime="server", episodes=1),
            EndScene(),
        ],
        seed=31,
        base_dir=base_dir,
    )


def the_group() -> Group:
    return Group(
        group_id=GROUP_ID,
        experiment_id="netcode_replay",
        room_id="lobby",
        condition=None,
        members=tuple(GroupMember(pid, agent, 5.0) for agent, pid in MEMBERS.items()),
        stand_ins={},
        formed_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    )


# -- the members' workers and the server's rows ---------------------------------------------------


@dataclass
class Plan:
    """Who plays each human agent: its member, the server's ``default_action`` while the
    member is ``away`` (frames), or the stand-in from frame ``stand_in[agent]`` on (0: the
    group was short of that member)."""

    away: dict[str, range] = field(default_factory=dict)
    stand_in: dict[str, int] = field(default_factory=dict)


def input_log(scene: GymScene, episode: int, plan: Plan) -> list[dict[str, tuple[Any, str, str]]]:
    """The server's confirmed inputs: per frame, per human agent, ``(input, keys, who)``.

    Each member holds a key (or none) for 1 to 5 frames; what they press at frame n is their
    input for frame n + input_delay_frames."""
    assert scene.max_steps is not None and scene.net.input_delay_frames is not None
    draw = random.Random(f"{scene.scene_id}:{episode}")
    labels = {"+".join(c["keys"]): c["action"] for c in scene.controls}
    held = {agent: ("", 0) for agent in scene.humans}
    log: list[dict[str, tuple[Any, str, str]]] = []
    for frame in range(scene.max_steps):
        inputs: dict[str, tuple[Any, str, str]] = {}
        for agent in scene.humans:
            keys, left = held[agent]
            if left == 0:
                keys, left = draw.choice(KEYS), draw.randint(1, 5)
            held[agent] = (keys, left - 1)
            stand_in = frame >= plan.stand_in.get(agent, scene.max_steps)
            if frame < scene.net.input_delay_frames:  # everyone's, whoever plays the agent
                who = "stand_in" if stand_in else MEMBERS[agent]
                inputs[agent] = (scene.default_action, "", who)
            elif stand_in:
                inputs[agent] = (None, "", "stand_in")
            elif frame in plan.away.get(agent, ()):
                inputs[agent] = (scene.default_action, "", "default")
            else:
                action = labels[keys] if keys else scene.default_action
                inputs[agent] = (action, keys, MEMBERS[agent])
        log.append(inputs)
    return log


class Worker:
    """A member's worker: the runtime package's game and rollback session, built from what the
    page gets (``client_options`` for the group's context) and the group's stand-ins."""

    def __init__(self, scene: GymScene, ctx: ParticipantContext) -> None:
        options = json.loads(json.dumps(scene.client_options(ctx)))
        host = EnvHost()
        env = options["env"]
        host.init_env(code=env["code"], config=env["config"], filename=env["filename"])
        self.game = GameHost(
            host,
            agents=options["agents"],
            hud_function=options["hud_function"],
            max_steps=options["max_steps"],
            num_actions=options["num_actions"],
            actions_used=scene.actions_used(),
            stand_ins=json.loads(json.dumps(scene.game_spec(ctx)["stand_ins"])),
        )
        self.lockstep = options["netcode"] == "lockstep"
        self.every = options["hash_every_frames"]
        self.default = options["default_action"]
        self.delay = options["input_delay_frames"]
        self.net = netcode.Rollback(self.game, lockstep=self.lockstep)
        self.rollbacks = 0

    def play(
        self, log: list[dict[str, tuple[Any, str, str]]], seed: int, lag: int
    ) -> list[dict[str, Any]]:
        """Play one episode as agent "0"'s member, hearing agent "1"'s inputs ``lag`` ticks
        after they were sent (predicting its last one heard); the final result of every
        frame."""
        assert lag == 0 or not self.lockstep
        self.net.start(seed=seed, lockstep=self.lockstep)
        results: dict[int, dict[str, Any]] = {}
        used: dict[int, dict[str, Any]] = {}

        def inputs(frame: int, confirmed: int) -> dict[str, Any]:
            heard = min(frame, confirmed)
            return {
                agent: log[frame][agent][0]
                if agent == "0" or frame <= confirmed
                else (log[heard][agent][0] if heard >= 0 else self.default)
                for agent in log[frame]
            }

        last = len(log) - 1
        for tick in range(len(log) + lag):
            # what the partner pressed at tick n is its input for n + delay, heard lag ticks on
            confirmed = max(min(tick - lag + self.delay, last), -1)
            wrong = [f for f in sorted(used) if f <= confirmed and used[f] != inputs(f, confirmed)]
            restore = wrong[0] if wrong else None
            first = self.net.frame if restore is None else restore
            frames = range(first, min(tick, last) + 1)
            steps = [inputs(f, confirmed) for f in frames]
            hashed = [f for f in frames if (f + 1) % self.every == 0]
            reply = self.net.advance(
                steps, first, restore=restore, confirmed=confirmed, hash=hashed, render=False
            )
            self.rollbacks += restore is not None
            for result in reply["results"]:
                results[result["frame"]] = result
                used[result["frame"]] = steps[result["frame"] - first]
            for stale in [f for f in results if f >= reply["frame"]]:
                del results[stale], used[stale]
        assert sorted(results) == list(range(len(results)))
        return [results[f] for f in range(len(results))]


def rows(
    scene: GymScene,
    episode: int,
    seed: int,
    log: list[dict[str, tuple[Any, str, str]]],
    reports: list[list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """The canonical step records and the episode record, as the server writes them."""
    first, *others = reports
    assert all(other == first for other in others), "the members' reports disagree"
    records: list[dict[str, Any]] = []
    returns: dict[str, float] = {}
    for f, report in enumerate(first):
        data: dict[str, Any] = {f"action_{a}": report["actions"][a] for a in scene.agents}
        for agent, reward in report["reward"].items():
            data[f"reward_{agent}"] = reward
            returns[str(agent)] = returns.get(str(agent), 0.0) + reward
        data.update(
            terminated=report["terminated"],
            truncated=report["truncated"],
            info=report["info"],
            group_id=GROUP_ID,
        )
        for agent in scene.humans:
            action, keys, who = log[f][agent]
            assert action is None or action == report["actions"][agent]
            data[f"participant_{agent}"] = who
            data[f"keys_{agent}"] = keys
            data[f"key_events_{agent}"] = []
        data.update(runtime="browser", netcode=scene.netcode, state_hash=report.get("hash"))
        data.update(agreed=True, reports=len(reports))
        step = {"kind": "step", "episode": episode, "attempt": 0, "step": f, "data": data}
        records.append({"scene_id": scene.scene_id, "t": 1000.0 + f, **step})
    last = first[-1]
    length = len(first)
    limit = last["truncated"] and length == scene.max_steps
    summary = {
        "seed": seed,
        "return": sum(returns.values()),
        "returns": returns,
        "length": length,
        "terminated": last["terminated"],
        "truncated": last["truncated"],
        "ended_by": "terminated" if last["terminated"] else "max_steps" if limit else "truncated",
        "group_id": GROUP_ID,
        **{f"participant_{a}": log[length - 1][a][2] for a in scene.humans},
        "runtime": "browser",
        "netcode": scene.netcode,
        "desyncs": 0,
        "fps": scene.fps,
        "duration_ms": round(length * 1000 / scene.fps),
    }
    records.append(
        {"kind": "episode", "scene_id": scene.scene_id, "episode": episode, "attempt": 0}
        | {"step": None, "t": 2000.0, "data": summary}
    )
    return json.loads(json.dumps(records))  # as stored: JSON, string keys


def server_rows(
    scene: GymScene,
    episode: int,
    seed: int,
    log: list[dict[str, tuple[Any, str, str]]],
    reports: list[list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """The same rows made by the server's own row writer (``net_log.EpisodeRows``), fed the
    input log as the members' messages and the server's fills give it, and every report."""
    assert scene.net.input_delay_frames is not None and scene.net.hash_every_frames is not None
    delay = scene.net.input_delay_frames
    inputs = InputLog(
        scene.humans, delay, scene.default_action, {a: log[0][a][2] for a in scene.humans}
    )
    context = RowContext(
        GROUP_ID,
        str(scene.netcode),
        tuple(scene.agents),
        tuple(scene.humans),
        scene.net.hash_every_frames,
        scene.fps,
        scene.max_steps,
    )
    writer = EpisodeRows(context, inputs, episode, seed)
    for frame in range(delay, len(log)):
        for agent in scene.humans:
            action, keys, who = log[frame][agent]
            if who in ("stand_in", "default"):
                inputs.fill(agent, frame + 1, action, who)
            else:
                inputs.add(agent, frame, [action], who, [keys])
    for agent, mine in zip(scene.humans, json.loads(json.dumps(reports)), strict=True):
        for r in mine:
            fields = {k: r[k] for k in ("frame", "actions", "reward", "info")}
            flags = {k: r[k] for k in ("terminated", "truncated", "done")}
            assert writer.add(agent, Report(**fields, **flags, hash=r.get("hash"))) is None
    records = [
        {"kind": "step", "scene_id": scene.scene_id, "episode": episode, "attempt": 0}
        | {"step": frame, "t": 1000.0 + frame, "data": data}
        for frame, data in writer.take(scene.humans)
    ]
    assert writer.ended_by is not None
    at_end = {a: log[len(records) - 1][a][2] for a in scene.humans}
    summary = writer.summary(writer.ended_by, at_end, duration_ms=1800.0)
    records.append(
        {"kind": "episode", "scene_id": scene.scene_id, "episode": episode, "attempt": 0}
        | {"step": None, "t": 2000.0, "data": summary}
    )
    return json.loads(json.dumps(records))


@dataclass
class Genuine:
    experiment: Experiment
    ctx: ParticipantContext
    records: list[dict[str, Any]]
    rollbacks: int
    #: The same episodes' rows as the server's row writer makes them.
    server_records: list[dict[str, Any]]

    def scene(self, scene_id: str) -> GymScene:
        scene = self.experiment.scene(scene_id)
        assert isinstance(scene, GymScene)
        return scene

    @property
    def scenes(self) -> list[GymScene]:
        return [self.scene("gather"), self.scene("greedy")]

    def copy(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.records)


PLANS = {
    ("greedy", 0): Plan(away={"0": range(8, 14)}, stand_in={"1": 20}),
    ("greedy", 1): Plan(stand_in={"1": 0}),
}


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Genuine]:
    folder = tmp_path_factory.mktemp("netcode_replay")
    experiment = study(folder)
    store = Store(f"sqlite:///{folder / 'study.db'}")
    try:
        ctx = Groups(experiment, store).context(the_group())  # the group's seed, as games use
    finally:
        store.close()
    records: list[dict[str, Any]] = []
    server_records: list[dict[str, Any]] = []
    rollbacks = 0
    for scene_id in ("gather", "greedy"):
        scene = experiment.scene(scene_id)
        assert isinstance(scene, GymScene)
        lag = 0 if scene.netcode == "lockstep" else 5
        members = [Worker(scene, ctx), Worker(scene, ctx)]
        for episode, seed in enumerate(scene.episode_seeds(ctx)):
            log = input_log(scene, episode, PLANS.get((scene_id, episode), Plan()))
            reports = [members[0].play(log, seed, lag), members[1].play(log, seed, 0)]
            records += rows(scene, episode, seed, log, reports)
            server_records += server_rows(scene, episode, seed, log, reports)
        rollbacks += members[0].rollbacks
    yield Genuine(experiment, ctx, records, rollbacks, server_records)


def replay(genuine: Genuine, records: list[dict[str, Any]], **options: Any) -> ParticipantVerdict:
    options.setdefault("group_seed", genuine.ctx.seed)
    return replay_group(genuine.scenes, records, **options)


def only(verdict: ParticipantVerdict, verified: bool | None) -> EpisodeVerdict:
    """The one episode whose verdict is not True, checked to be ``verified``."""
    (odd,) = [e for e in verdict.episodes if e.verified is not True]
    assert odd.verified is verified, odd
    # a run not checked leaves the group's verdict to the others
    assert verdict.verified is (True if verified is None else verified)
    return odd


def steps_of(records: list[dict], scene_id: str, episode: int = 0) -> list[dict]:
    found = [r for r in records if r["kind"] == "step" and r["scene_id"] == scene_id]
    return sorted((r for r in found if r["episode"] == episode), key=lambda r: r["step"])


def summary_of(records: list[dict], scene_id: str, episode: int = 0) -> dict:
    (summary,) = [
        r["data"]
        for r in records
        if r["kind"] == "episode" and r["scene_id"] == scene_id and r["episode"] == episode
    ]
    return summary


# -- genuine rows verify --------------------------------------------------------------------------


def test_genuine_rows_of_a_group_verify(genuine: Genuine) -> None:
    verdict = replay(genuine, genuine.records)
    assert verdict.verified is True and verdict.reason is None, verdict
    assert [(e.scene_id, e.episode, e.attempt) for e in verdict.episodes] == [
        ("gather", 0, 0),
        ("gather", 1, 0),
        ("greedy", 0, 0),
        ("greedy", 1, 0),
    ]
    assert all(e.verified is True and e.steps == 36 for e in verdict.episodes)
    # what the rows exercise: rollbacks, hashes, a member away, a stand-in, every agent's action
    assert genuine.rollbacks > 0
    gather = steps_of(genuine.records, "gather")
    hashed = [r["step"] for r in gather if r["data"]["state_hash"] is not None]
    assert hashed == [4, 9, 14, 19, 24, 29, 34, 35]  # every 5th frame, and the last
    greedy = [r["data"] for r in steps_of(genuine.records, "greedy")]
    assert [d["participant_0"] for d in greedy].count("default") == 6
    assert [d["participant_1"] for d in greedy].count("stand_in") == 16
    assert len({d["action_1"] for d in greedy[20:]}) > 1  # the stand-in's random draws
    short = [r["data"] for r in steps_of(genuine.records, "greedy", 1)]  # short of a member
    assert all(d["participant_1"] == "stand_in" for d in short)
    assert [d["action_1"] for d in short[:1]] == [0]  # the input delay's default_action
    assert summary_of(genuine.records, "gather")["ended_by"] == "max_steps"


def test_the_rows_the_servers_row_writer_makes_verify(genuine: Genuine) -> None:
    verdict = replay(genuine, genuine.server_records)
    assert verdict.verified is True, verdict
    assert len(verdict.episodes) == 4 and all(e.steps == 36 for e in verdict.episodes)
    records = copy.deepcopy(genuine.server_records)
    steps_of(records, "greedy", 1)[12]["data"]["reward_2"] += 1.0
    odd = only(replay(genuine, records), False)
    assert str(odd.reason).startswith("step 12: reward_2 "), odd.reason


def test_the_episode_seeds_are_the_groups(genuine: Genuine) -> None:
    member = ParticipantContext(MEMBERS["0"], "netcode_replay", seed=genuine.ctx.seed + 1)
    scene = genuine.scene("gather")
    recorded = [summary_of(genuine.records, "gather", e)["seed"] for e in range(2)]
    assert recorded == scene.episode_seeds(genuine.ctx) != scene.episode_seeds(member)


# -- tampered rows do not -------------------------------------------------------------------------


def test_a_changed_reward_names_the_step_and_the_agent(genuine: Genuine) -> None:
    records = genuine.copy()
    steps_of(records, "gather", 1)[7]["data"]["reward_1"] += 1.0
    odd = only(replay(genuine, records), False)
    assert (odd.scene_id, odd.episode) == ("gather", 1)
    assert odd.reason is not None and odd.reason.startswith("step 7: reward_1 "), odd.reason
    assert "env gives" in odd.reason


def test_a_changed_state_hash(genuine: Genuine) -> None:
    records = genuine.copy()
    steps_of(records, "gather")[14]["data"]["state_hash"] = "0123456789abcdef"
    odd = only(replay(genuine, records), False)
    assert odd.reason is not None
    assert odd.reason.startswith("step 14: state_hash '0123456789abcdef' recorded, but the state")


def test_a_state_hash_of_another_frame(genuine: Genuine) -> None:
    records = genuine.copy()
    steps = steps_of(records, "greedy")
    steps[11]["data"]["state_hash"] = steps[7]["data"]["state_hash"]
    odd = only(replay(genuine, records), False)
    assert odd.reason is not None and odd.reason.startswith("step 11: state_hash"), odd.reason


def test_a_wrong_group_seed(genuine: Genuine) -> None:
    verdict = replay(genuine, genuine.records, group_seed=genuine.ctx.seed + 1)
    assert verdict.verified is False
    assert all(e.verified is False for e in verdict.episodes)
    assert "recorded, but the scene gives episode 0 seed" in str(verdict.episodes[0].reason)
    # without the summaries' seeds, the rows themselves are not what the wrong seed gives
    records = genuine.copy()
    for record in records:
        if record["kind"] == "episode":
            del record["data"]["seed"]
    verdict = replay(genuine, records, group_seed=genuine.ctx.seed + 1)
    assert all(e.verified is False for e in verdict.episodes), verdict
    assert all(str(e.reason).startswith("step ") for e in verdict.episodes), verdict
    assert replay(genuine, records).verified is True


def test_a_member_who_left_ends_the_episode_early(genuine: Genuine) -> None:
    records = [
        r
        for r in genuine.copy()
        if not (r["scene_id"] == "gather" and r["episode"] == 1 and (r["step"] or 0) >= 12)
    ]
    summary = summary_of(records, "gather", 1)
    kept = steps_of(records, "gather", 1)
    summary.update(
        length=12,
        ended_by="member_left",
        truncated=False,
        returns={a: sum(r["data"][f"reward_{a}"] for r in kept) for a in ("0", "1", "2")},
    )
    summary["return"] = sum(summary["returns"].values())
    verdict = replay(genuine, records)
    assert verdict.verified is True, verdict
    assert verdict.episodes[1].steps == 12
    # not when the environment had ended it
    records = genuine.copy()
    summary_of(records, "gather", 1)["ended_by"] = "member_left"
    odd = only(replay(genuine, records), False)
    assert odd.reason == (
        "episode summary: ended_by 'member_left' recorded, the steps give 'max_steps' or "
        "'truncated'"
    )


def test_the_summary_is_every_agents_return(genuine: Genuine) -> None:
    records = genuine.copy()
    summary = summary_of(records, "gather", 1)
    summary["return"] = summary["returns"]["0"]  # one member's score is not the group's
    assert summary["return"] != sum(summary["returns"].values())
    odd = only(replay(genuine, records), False)
    assert str(odd.reason).startswith("episode summary: return ")


def test_an_action_no_control_gives(genuine: Genuine) -> None:
    records = genuine.copy()
    steps_of(records, "gather")[5]["data"]["action_0"] = 4
    odd = only(replay(genuine, records), False)
    assert odd.reason == "step 5: action_0 4 recorded, which no control gives (agent 0)"


def test_an_action_its_keys_do_not_give(genuine: Genuine) -> None:
    records = genuine.copy()
    step = next(r for r in steps_of(records, "gather") if r["data"]["keys_1"] == "ArrowDown")
    step["data"]["keys_1"] = "ArrowUp"
    odd = only(replay(genuine, records), False)
    assert odd.reason == (
        f"step {step['step']}: action_1 2 recorded, but its keys_1 'ArrowUp' give 1 (agent 1)"
    )


def test_an_action_changed_with_its_keys_is_not_what_the_game_gave(genuine: Genuine) -> None:
    records = genuine.copy()
    step = next(r for r in steps_of(records, "gather") if r["data"]["keys_0"] == "ArrowUp")
    step["data"].update(keys_0="ArrowDown", action_0=2)
    odd = only(replay(genuine, records), False)
    assert odd.reason is not None
    assert odd.reason.startswith("step "), odd.reason
    assert int(odd.reason.split()[1].rstrip(":")) >= step["step"]


def test_a_member_away_plays_any_control_without_keys(genuine: Genuine) -> None:
    records = genuine.copy()
    away = steps_of(records, "greedy")[9]["data"]
    assert away["participant_0"] == "default"
    away["keys_0"] = "ArrowUp"  # the server played the agent: its keys are not the action's
    assert replay(genuine, records).verified is True
    away["action_0"] = 4
    odd = only(replay(genuine, records), False)
    assert odd.reason == "step 9: action_0 4 recorded, which no control gives (agent 0)"


def test_a_random_agent_and_a_stand_in_are_checked_against_their_draws(genuine: Genuine) -> None:
    records = genuine.copy()
    data = steps_of(records, "gather")[3]["data"]
    drawn = data["action_2"]
    data["action_2"] = (drawn + 1) % 5
    odd = only(replay(genuine, records), False)
    assert odd.reason == (
        f"step 3: action_2 {(drawn + 1) % 5} recorded, but the random draw of agent 2 gives {drawn}"
    )

    records = genuine.copy()
    data = steps_of(records, "greedy")[25]["data"]
    assert data["participant_1"] == "stand_in"
    drawn = data["action_1"]
    data["action_1"] = (drawn + 1) % 5
    odd = only(replay(genuine, records), False)
    assert odd.reason == (
        f"step 25: action_1 {(drawn + 1) % 5} recorded, but the random draw of the stand-in of "
        f"agent 1 gives {drawn}"
    )


def test_a_stand_in_the_game_does_not_have(genuine: Genuine) -> None:
    records = genuine.copy()
    steps_of(records, "greedy")[30]["data"]["participant_0"] = "stand_in"
    odd = only(replay(genuine, records), False)
    assert odd.reason == (
        "step 30: participant_0 'stand_in' recorded, but the game has no stand-in for agent 0"
    )
    # with the waiting room's stand-in for agent 0 (a group short of a member) the game has
    # one; but its generator is part of the saved state, which the members' games did not have
    greedy = genuine.scene("greedy")
    verdict = replay_group(greedy, records, genuine.ctx.seed, stand_ins={"0": {"kind": "random"}})
    assert verdict.verified is False
    assert all(str(e.reason).startswith("step 3: state_hash ") for e in verdict.episodes)


def test_rows_numbered_wrong(genuine: Genuine) -> None:
    records = genuine.copy()
    records.remove(steps_of(records, "gather")[20])
    odd = only(replay(genuine, records), False)
    assert odd.reason == "step 20 is missing (steps 0 to 35 are recorded)"
    records = genuine.copy()
    records.append(copy.deepcopy(steps_of(records, "gather")[20]))
    odd = only(replay(genuine, records), False)
    assert odd.reason == "step 20 is recorded 2 times"


def test_a_frame_no_member_reported_is_not_checked(genuine: Genuine) -> None:
    records = genuine.copy()
    data = steps_of(records, "gather")[17]["data"]
    data.update(reports=0, action_2=None, reward_0=None, reward_1=None, reward_2=None)
    odd = only(replay(genuine, records), None)
    assert odd.reason == (
        "not checked from step 17 on: no member reported this frame (reports 0): its AI actions "
        "are unknown"
    )
    steps_of(records, "gather")[3]["data"]["reward_0"] = 3.0  # what comes before still counts
    odd = only(replay(genuine, records), False)
    assert str(odd.reason).startswith("step 3: reward_0 3.0 recorded"), odd.reason


def test_a_frame_the_members_disagreed_on_says_so(genuine: Genuine) -> None:
    records = genuine.copy()
    data = steps_of(records, "gather", 1)[9]["data"]
    data.update(agreed=False, state_hash="ffffffffffffffff")
    odd = only(replay(genuine, records), False)
    assert str(odd.reason).startswith("step 9: state_hash 'ffffffffffffffff' recorded")
    assert str(odd.reason).endswith(
        "(the members' reports of this frame disagreed: agreed is False)"
    )


def test_a_python_policy_is_checked_when_asked(genuine: Genuine) -> None:
    records = genuine.copy()
    data = steps_of(records, "greedy")[2]["data"]
    data["action_2"] = (data["action_2"] + 1) % 5
    # taken as recorded: the env then gives another game (a reward or the next state hash)
    odd = only(replay(genuine, records), False)
    assert str(odd.reason).startswith("step "), odd.reason
    odd = only(replay(genuine, records, check_policies=True), False)
    assert str(odd.reason).startswith("step 2: action_2 "), odd.reason
    assert "but the policy of agent 2 gives" in str(odd.reason)
    assert replay(genuine, genuine.records, check_policies=True).verified is True


# -- the server's verdicts ------------------------------------------------------------------------


def stored(db_url: str, genuine: Genuine, records: list[dict[str, Any]]) -> Store:
    """A store with the group, its members and the group's own records (server chunks)."""
    store = Store(db_url)
    for pid in MEMBERS.values():
        store.create_participant(
            pid, "netcode_replay", condition=None, url_params={}, seed=1, scene_order=[]
        )
    store.create_group(the_group())
    chunk = Chunk(GROUP_ID, SERVER_GAME_SEQS.start, validate_records(records))
    assert store.write_chunks([chunk]) == [True]
    return store


def served_records() -> list[dict[str, Any]]:
    """A few rows of the group game the server ran (not replayed)."""
    step = {"action_0": 1, "action_1": 0, "action_2": 3, "group_id": GROUP_ID}
    return [
        {"kind": "step", "scene_id": "served", "episode": 0, "attempt": 0, "step": 0}
        | {"t": 1.0, "data": step},
        {"kind": "episode", "scene_id": "served", "episode": 0, "attempt": 0, "step": None}
        | {"t": 2.0, "data": {"length": 1, "ended_by": "stopped", "runtime": "server"}},
    ]


def jsonl(folder: Path, table: str) -> list[dict[str, Any]]:
    lines = (folder / f"{table}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


async def test_the_server_verifies_a_group_game_scene_by_scene(
    db_url: str, genuine: Genuine, tmp_path: Path
) -> None:
    store = stored(db_url, genuine, genuine.records + served_records())
    try:
        verifier = Verifier(genuine.experiment, store)
        assert await verifier.verify_group(GROUP_ID, ["gather"]) is True
        assert [
            (v.participant_id, v.scene_id, v.episode, v.verified) for v in store.verdicts()
        ] == [
            (GROUP_ID, "gather", 0, True),
            (GROUP_ID, "gather", 1, True),
        ]
        verifier.schedule_group(GROUP_ID, ["greedy", "served"])  # in the background
        await verifier.close()
        verdicts = {(v.scene_id, v.episode): v for v in store.verdicts(GROUP_ID)}
        assert sorted(verdicts) == [
            ("gather", 0),
            ("gather", 1),
            ("greedy", 0),
            ("greedy", 1),
            ("served", 0),
        ]
        assert all(v.verified is True for v in verdicts.values())
        assert verdicts["served", 0].reason == SERVER_RUNTIME  # the server ran it: not replayed
        assert verdicts["greedy", 0].reason is None

        export(store, tmp_path / "out", "jsonl", experiment_id="netcode_replay")
        episodes = jsonl(tmp_path / "out", "episodes")
        assert [
            (e["participant_id"], e["group_id"], e["scene_id"], e["episode"], e["verified"])
            for e in episodes
        ] == [
            (None, GROUP_ID, "gather", 0, True),
            (None, GROUP_ID, "gather", 1, True),
            (None, GROUP_ID, "greedy", 0, True),
            (None, GROUP_ID, "greedy", 1, True),
            (None, GROUP_ID, "served", 0, True),
        ]
        # the members' own verdicts are theirs: none of the group's rows are replayed for them
        assert await verifier.verify(MEMBERS["0"]) is None
        assert store.verdicts(MEMBERS["0"]) == []
    finally:
        store.close()


async def test_the_server_flags_a_tampered_group_game(
    db_url: str, genuine: Genuine, tmp_path: Path
) -> None:
    records = genuine.copy()
    steps_of(records, "gather", 1)[30]["data"]["reward_0"] = 5.0
    store = stored(db_url, genuine, records)
    try:
        assert await Verifier(genuine.experiment, store).verify_group(GROUP_ID) is False
        verdicts = {(v.scene_id, v.episode): v for v in store.verdicts(GROUP_ID)}
        assert sorted(verdicts) == [("gather", 0), ("gather", 1), ("greedy", 0), ("greedy", 1)]
        assert verdicts["gather", 1].verified is False
        assert str(verdicts["gather", 1].reason).startswith("step 30: reward_0 5.0 recorded")
        export(store, tmp_path / "out", "jsonl", experiment_id="netcode_replay")
        flagged = [e for e in jsonl(tmp_path / "out", "episodes") if e["verified"] is False]
        assert [(e["group_id"], e["episode"], e["verify_reason"]) for e in flagged] == [
            (GROUP_ID, 1, verdicts["gather", 1].reason)
        ]
    finally:
        store.close()
