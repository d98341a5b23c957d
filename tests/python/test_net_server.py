"""The server's half of group games in the browser: the input log, the rows, netem, and the
``net:*`` protocol played by socket clients acting as two members' pages.

The unit tests drive ``net_log.py`` and ``netem.py`` directly. The others start the real server
(``python -m interactive_gym.run study.py`` on SQLite, ``local_server.StudyProcess``), bring two
light socket clients (``bench/light_socket.py``) through a waiting room into a browser group
scene, and play it as pages would, without a worker: each member "simulates" a made-up env
(the reward of an agent is its action, the episode ends after ``LENGTH`` frames, the state hash
of frame f is ``"h<f>"``) and reports its final frames as ``netAdvance`` would.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from interactive_gym.bench.light_socket import LightSocket
from interactive_gym.data import Store
from interactive_gym.local_server import StudyProcess
from interactive_gym.server.net_log import MAX_RESEND, EpisodeRows, InputLog, Report, RowContext
from interactive_gym.server.net_messages import parse_input, parse_report
from interactive_gym.server.netem import Link, Netem, NetemError, parse_netem

# -- the input log ----------------------------------------------------------------------------


def a_log(delay: int = 2) -> InputLog:
    return InputLog(["0", "1"], delay, 0, {"0": "pA", "1": "pB"})


def test_the_log_starts_with_the_delay_frames_of_default_action() -> None:
    log = a_log(delay=3)
    assert log.actions == {"0": [0, 0, 0], "1": [0, 0, 0]}
    assert log.confirmed == 2 and log.who["1"] == ["pB"] * 3
    assert a_log(delay=0).confirmed == -1


def test_the_first_value_of_a_frame_wins_and_a_gap_adds_nothing() -> None:
    log = a_log()
    assert log.add("0", 2, [1, 2], "pA") == 2
    assert log.add("0", 2, [4, 4, 3], "pA") == 1  # frames 2 and 3 are kept; 4 is new
    assert log.add("0", 0, [2, 2], "pA") == 0  # the delay frames are never overwritten
    assert log.actions["0"] == [0, 0, 1, 2, 3]
    assert log.add("0", 7, [1], "pA") == 0  # a gap: frame 5 and 6 are missing
    assert log.length("0") == 5
    assert log.confirmed == 1 and log.newest == 4
    assert log.add("1", 2, [2, 2, 2], "pB") == 3
    assert log.confirmed == 4


def test_keys_go_with_their_frames_and_events_with_the_last_new_one() -> None:
    log = a_log()
    log.add("0", 2, [1, 2], "pA", keys=["ArrowRight", "ArrowUp"], events=[["down", "x", 1.0]])
    assert log.keys["0"] == ["", "", "ArrowRight", "ArrowUp"]
    assert log.events["0"] == {3: [["down", "x", 1.0]]}
    log.add("0", 3, [2], "pA", keys=["ArrowUp"], events=[["up", "x", 2.0]])  # nothing new
    assert log.events["0"] == {3: [["down", "x", 1.0]]}


def test_the_log_limits_how_far_an_agent_runs_ahead() -> None:
    log = a_log()
    assert log.add("0", 2, [1] * 20, "pA", limit=10) == 8
    assert log.length("0") == 10


def test_fills_follow_the_longest_log_and_say_who_played() -> None:
    log = a_log()
    log.add("0", 2, [1, 1, 1], "pA")
    assert log.fill("1", log.length("0"), 0, "default") == 3
    assert log.fill("1", log.length("0"), 0, "default") == 0
    log.add("0", 5, [2], "pA")
    assert log.fill("1", log.length("0"), None, "stand_in") == 1
    assert log.actions["1"] == [0, 0, 0, 0, 0, None]
    assert log.who["1"][-2:] == ["default", "stand_in"]
    assert log.confirmed == 5


def test_the_resend_window_starts_after_the_ack_and_is_bounded() -> None:
    log = a_log()
    log.add("0", 2, list(range(1, 3)) * 50, "pA")  # 100 frames
    log.add("1", 2, [1, 2], "pB")
    window = log.after(1)
    assert window["0"]["from"] == 2 and len(window["0"]["actions"]) == MAX_RESEND
    assert window["1"] == {"from": 2, "actions": [1, 2]}
    assert "1" not in log.after(3) and log.after(3)["0"]["from"] == 4
    assert log.after(200) == {}
    assert log.since(3) == {
        "0": {"from": 3, "actions": log.actions["0"][3:]},
        "1": {"from": 3, "actions": [2]},
    }


# -- the rows -----------------------------------------------------------------------------------


def rows_of(
    log: InputLog, *, fps: int = 5, hash_every: int = 2, max_steps: int | None = None
) -> EpisodeRows:
    ctx = RowContext("g1", "rollback", ("0", "1", "ai"), ("0", "1"), hash_every, fps, max_steps)
    return EpisodeRows(ctx, log, 0, 42)


def report(log: InputLog, frame: int, *, done: bool = False, digest: str | None = None) -> Report:
    actions = {a: (log.actions[a] + [0] * 99)[frame] for a in ("0", "1")}
    actions["ai"] = 3
    reward = {a: float(v or 0) for a, v in actions.items()}
    hashed = digest if digest is not None else (f"h{frame}" if (frame + 1) % 2 == 0 else None)
    return Report(frame, actions, reward, done, False, done, {"t": frame}, hashed)


def played(frames: int) -> InputLog:
    log = a_log()
    log.add("0", 2, [1] * (frames - 2), "pA", keys=["ArrowRight"] * (frames - 2))
    log.add("1", 2, [2] * (frames - 2), "pB")
    return log


def test_a_row_waits_for_confirmed_inputs_and_every_member_here() -> None:
    log = a_log()
    rows = rows_of(log)
    log.add("0", 2, [1, 1], "pA")
    rows.add("0", report(log, 0))
    assert rows.add("0", report(log, 3)) is None  # frame 3 is not confirmed: not final
    assert rows.take(["0", "1"]) == []  # member 1 has not reported frame 0
    rows.add("1", report(log, 0))
    ((frame, data),) = rows.take(["0", "1"])
    assert frame == 0 and data["agreed"] is True and data["reports"] == 2
    assert rows.take(["0", "1"]) == []  # frame 1: no report yet


def test_each_frame_is_written_once_in_order_whatever_the_reports_do() -> None:
    log = played(12)
    rows = rows_of(log)
    written: list[int] = []
    for frame in [3, 1, 0, 2, 0, 1]:
        for agent in ("0", "1"):
            rows.add(agent, report(log, frame))
        written += [f for f, _ in rows.take(["0", "1"])]
    for frame in range(12):  # everything again, and late
        for agent in ("1", "0", "1"):
            rows.add(agent, report(log, frame, done=frame == 11))
        written += [f for f, _ in rows.take(["0", "1"])]
    rows.add("0", report(log, 5))
    written += [f for f, _ in rows.take(["0", "1"])]
    assert written == list(range(12))
    assert rows.over and rows.ended_by == "terminated" and rows.next_row == 12
    assert rows.reports == {}


def test_the_step_row_has_every_agent_and_who_played_it() -> None:
    log = played(6)
    log.fill("1", 8, None, "stand_in")
    log.add("0", 6, [2, 2], "pA")
    rows = rows_of(log)
    for frame in range(8):
        for agent in ("0", "1"):
            one = report(log, frame)
            if frame >= 6:  # the stand-in chose 4
                one = Report(frame, {**one.actions, "1": 4}, one.reward, False, False, False,
                             None, one.hash)  # fmt: skip
            rows.add(agent, one)
    taken = dict(rows.take(["0"]))
    row = taken[3]
    assert (row["action_0"], row["action_1"], row["action_ai"]) == (1, 2, 3)
    assert (row["reward_0"], row["reward_1"], row["reward_ai"]) == (1.0, 2.0, 3.0)
    assert row["participant_0"] == "pA" and row["participant_1"] == "pB"
    assert row["keys_0"] == "ArrowRight" and row["keys_1"] == "" and row["key_events_0"] == []
    assert row["state_hash"] == "h3" and taken[2]["state_hash"] is None
    assert row["runtime"] == "browser" and row["netcode"] == "rollback"
    assert row["group_id"] == "g1" and row["info"] == {"t": 3} and row["terminated"] is False
    assert taken[7]["action_1"] == 4 and taken[7]["participant_1"] == "stand_in"
    assert taken[7]["agreed"] is True


def test_reports_that_differ_are_not_agreed_and_a_hash_mismatch_is_a_desync() -> None:
    log = played(6)
    rows = rows_of(log)
    rows.add("0", report(log, 0))
    other = report(log, 0)
    rows.add("1", Report(0, other.actions, {"0": 9.0}, False, False, False))
    assert rows.add("0", report(log, 1)) is None
    assert rows.add("1", report(log, 1, digest="zz")) == {"0": "h1", "1": "zz"}
    assert rows.add("1", report(log, 1, digest="zz")) is None  # already known
    taken = dict(rows.take(["0", "1"]))
    assert taken[0]["agreed"] is False and taken[1]["agreed"] is False
    assert taken[1]["state_hash"] == "h1"
    # A report whose human action is not the logged one is not agreed either.
    wrong = report(log, 2)
    rows.add("0", Report(2, {**wrong.actions, "0": 0}, wrong.reward, False, False, False))
    rows.add("1", Report(2, {**wrong.actions, "0": 0}, wrong.reward, False, False, False))
    assert dict(rows.take(["0", "1"]))[2]["agreed"] is False


def test_a_frame_far_behind_the_newest_report_is_written_with_the_reports_it_has() -> None:
    log = played(30)
    rows = rows_of(log, fps=5)  # lag: 10 frames
    for frame in range(12):
        rows.add("0", report(log, frame))
    assert [f for f, _ in rows.take(["0", "1"])] == [0, 1]
    assert rows.waiting == 2
    assert [f for f, _ in rows.take(["0", "1"], overdue=3)] == [2, 3]  # waited long enough
    assert rows.waiting == 4
    rows.expects["1"] = 5  # member 1 resumed at frame 5: it reports from there on
    for frame in range(5, 12):
        rows.add("1", report(log, frame))
    assert [f for f, _ in rows.take(["0", "1"])] == list(range(4, 12))
    assert rows.waiting is None  # frame 12: nobody reported it


def test_the_episode_ends_at_max_steps_and_its_summary_sums_every_agent() -> None:
    log = played(10)
    rows = rows_of(log, max_steps=4)
    for frame in range(6):
        for agent in ("0", "1"):
            rows.add(agent, report(log, frame))
    assert [f for f, _ in rows.take(["0", "1"])] == [0, 1, 2, 3]
    assert rows.ended_by == "max_steps"
    summary = rows.summary("max_steps", {"0": "pA", "1": "stand_in"}, 1234.4)
    assert summary["length"] == 4 and summary["seed"] == 42
    # frames 0 and 1 are the input delay's default action (0)
    assert summary["returns"] == {"0": 2.0, "1": 4.0, "ai": 12.0} and summary["return"] == 18.0
    assert summary["participant_1"] == "stand_in" and summary["duration_ms"] == 1234
    assert summary["runtime"] == "browser" and summary["desyncs"] == 0 and summary["fps"] == 5


def test_an_early_end_keeps_the_reported_confirmed_frames() -> None:
    log = played(10)
    rows = rows_of(log)
    for frame in (0, 1, 2, 4):
        rows.add("0", report(log, frame))
    assert [f for f, _ in rows.rest()] == [0, 1, 2]
    assert not rows.over


def test_the_reference_of_a_desync_is_the_first_here_or_the_majority() -> None:
    from interactive_gym.server.net_repair import reference_of

    two = ["0", "1"]
    assert reference_of({"0": "a", "1": "b"}, two, two) == "0"
    assert reference_of({"0": "a", "1": "b"}, ["1"], two) == "1"  # 0 is away
    assert reference_of({"0": "a", "1": "b"}, [], two) is None
    three = ["0", "1", "2"]
    assert reference_of({"0": "x", "1": "b", "2": "b"}, three, three) == "1"
    assert reference_of({"0": "x", "1": "b", "2": "c"}, three, three) == "0"  # no majority


# -- payloads -----------------------------------------------------------------------------------


class Allowed:
    def check(self, actions: Any, name: str) -> list[Any]:
        return list(actions)


def test_malformed_inputs_are_refused_naming_the_field() -> None:
    from interactive_gym.server.net_messages import Actions
    from interactive_gym.server.seated_game import GameRefused

    good = {"scene_id": "g", "episode": 0, "from": 2, "actions": [1], "keys": ["x"],
            "events": [["down", "x", 1.5]], "frame": 0, "adv": 0.5, "ack": 1,
            "reports": [{"frame": 0, "actions": {"0": 1}, "reward": {"0": 1}, "terminated": False,
                         "truncated": False, "done": False, "info": None}]}  # fmt: skip

    class Scene:
        controls = [{"action": 1}, {"action": 2}]
        default_action = 0

    actions = Actions(Scene())  # type: ignore[arg-type]
    parsed = parse_input(good, actions)
    assert parsed.start == 2 and parsed.reports[0].frame == 0 and parsed.adv == 0.5
    bad = {
        "episode": -1,
        "from": "2",
        "actions": [7],
        "keys": [3],
        "events": [["down", "x"]],
        "frame": 1.5,
        "adv": float("nan"),
        "ack": -2,
        "reports": [{"frame": 0}],
    }
    for name, value in bad.items():
        with pytest.raises(GameRefused) as refused:
            parse_input({**good, name: value}, actions)
        assert refused.value.reason.startswith(name), (name, refused.value.reason)
    with pytest.raises(GameRefused, match=r"actions\[1\]"):
        parse_input({**good, "actions": [1, None]}, actions)
    with pytest.raises(GameRefused, match=r"reports\[0\]\.done"):
        parse_report({**good["reports"][0], "done": 1}, "reports[0]")  # type: ignore[index]
    with pytest.raises(GameRefused, match=r"reports\[0\]\.hash"):
        parse_report({**good["reports"][0], "hash": 5}, "reports[0]")  # type: ignore[index]


# -- netem --------------------------------------------------------------------------------------


def test_a_netem_spec_is_read_with_units_and_per_member_links() -> None:
    spec = parse_netem("latency=80ms, jitter=0.03s,loss=10%,reorder=2.5%,seed=7;p2:latency=1s")
    assert spec.default == Link(0.08, 0.03, 0.1, 0.025) and spec.seed == 7
    assert spec.members == {"p2": Link(1.0)}
    assert parse_netem("").default == Link() and not Link().active


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("latency=80", "'latency=80': expected a duration"),
        ("latency=80ms,loss=10", "'loss=10': expected a percentage"),
        ("loss=120%", "'loss=120%': at most 100%"),
        ("latency=20s", "'latency=20s': at most 10s"),
        ("delay=5ms", "unknown setting 'delay'"),
        ("latency=5ms,latency=6ms", "latency is given twice"),
        ("latency", "'latency': expected name=value"),
        ("reorder=5%", "reorder needs a latency"),
        ("latency=5ms;p2", "'p2': expected participant_id:settings"),
        ("latency=5ms;p2:seed=3", "the seed goes in the first part"),
        ("seed=x", "'seed=x': expected a whole number"),
    ],
)
def test_a_bad_netem_spec_names_the_part(text: str, named: str) -> None:
    with pytest.raises(NetemError) as error:
        parse_netem(text)
    assert named in str(error.value)


def test_netem_draws_are_seeded_and_only_the_input_stream_is_lost() -> None:
    def draws(seed: int) -> list[Any]:
        netem = Netem(f"latency=50ms,jitter=20ms,loss=30%,seed={seed}")
        return [(netem.delay("p1"), netem.dropped("p1", "net:input")) for _ in range(50)]

    assert draws(1) == draws(1) != draws(2)
    delays = [d for d, _ in draws(1)]
    assert all(0.03 <= d <= 0.07 for d in delays) and len(set(delays)) > 40
    assert 5 <= sum(lost for _, lost in draws(1)) <= 25
    netem = Netem("loss=100%")
    assert netem.dropped("p1", "net:inputs") and not netem.dropped("p1", "net:episode")
    netem.set_member("p1", "latency=5ms")
    assert not netem.dropped("p1", "net:input") and netem.delay("p1") == 0.005
    netem.set_member("p1", None)
    assert netem.dropped("p1", "net:input")


async def test_netem_keeps_an_ordered_stream_in_order_and_late() -> None:
    netem = Netem("latency=30ms,jitter=25ms,seed=3")
    got: list[tuple[int, float]] = []
    start = time.monotonic()

    async def handler(sid: str, n: int) -> None:
        got.append((n, time.monotonic() - start))

    delayed = netem.ordered_handler(handler, lambda sid: "p1")
    for n in range(30):
        await delayed("sid1", n)
        await asyncio.sleep(0.001)
    sent: list[int] = []

    async def send(sio: Any, event: str, data: Any, sids: Any) -> None:
        sent.append(data)

    sender = netem.ordered_sender(lambda sid: "p1", send)
    for n in range(30):
        await sender(None, "game:frame", n, ["sid1"])
    await asyncio.sleep(0.2)
    assert [n for n, _ in got] == list(range(30)) and sent == list(range(30))
    assert got[0][1] >= 0.005
    unordered = Netem("latency=30ms,jitter=25ms,seed=3")
    arrived: list[int] = []
    for n in range(30):

        async def work(n: int = n) -> None:
            arrived.append(n)

        unordered.send("p1", "net:inputs", work)
    await asyncio.sleep(0.2)
    assert sorted(arrived) == list(range(30)) and arrived != list(range(30))  # jitter reorders
    await netem.close()


# -- the protocol, on a real server ---------------------------------------------------------------

LENGTH = 30
DELAY = 2
HASH_EVERY = 5

STUDY = """\
from interactive_gym.study import EndScene, Experiment, GymScene, StandIn, WaitingRoom

experiment = Experiment(
    "net_server",
    [
        WaitingRoom("lobby", countdown_s=0),
        GymScene(
            "duel",
            runtime="browser",
            env_file="walk.py",
            agents={{0: "human", 1: "human"}},
            controls={{"ArrowLeft": 1, "ArrowRight": 2}},
            default_action=0,
            fps=30,
            episodes={episodes},
            input_delay_frames={delay},
            hash_every_frames={hash_every},
            reconnect_s={reconnect_s},
            when_member_away={away!r},
            on_member_leave={leave},
        ),
        EndScene(),
    ],
    participant_id_param="PROLIFIC_PID",
)
"""

WALK = """\
num_actions = 3


class Walk:
    def __init__(self):
        self.possible_agents = [0, 1]

    def reset(self, seed=None, options=None):
        self.x = [0, 0]
        return {a: 0 for a in self.possible_agents}, {a: {} for a in self.possible_agents}

    def step(self, actions):
        for a, action in actions.items():
            self.x[a] += action
        agents = self.possible_agents
        return ({a: self.x[a] for a in agents}, {a: float(actions[a]) for a in agents},
                {a: False for a in agents}, {a: False for a in agents}, {a: {} for a in agents})

    def get_state(self):
        return {"x": list(self.x)}

    def set_state(self, state):
        self.x = list(state["x"])


env = Walk()
"""


@contextmanager
def net_server(
    folder: Path,
    *,
    episodes: int = 1,
    reconnect_s: float = 5,
    away: str = "pause",
    leave: str = '"end"',
    netem: str | None = None,
) -> Iterator[tuple[str, Store]]:
    """The study served by ``python -m interactive_gym.run`` (``netem``: its ``--netem``,
    through ``IG_NETEM``), and its store."""
    from interactive_gym.server.settings import PROJECT_DIR

    (folder / "walk.py").write_text(WALK)
    study = folder / "study.py"
    study.write_text(STUDY.format(episodes=episodes, delay=DELAY, hash_every=HASH_EVERY,
                                  reconnect_s=reconnect_s, away=away, leave=leave))  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        if netem is not None:
            patch.setenv("IG_NETEM", netem)
        else:
            patch.delenv("IG_NETEM", raising=False)
        server = StudyProcess(folder, study, wheelhouse=PROJECT_DIR / "data" / "wheelhouse")
    store = Store(server.db_url)
    try:
        yield server.url, store
    finally:
        store.close()
        server.stop()


class Page:
    """A member's page at the socket level, with a made-up env in place of the worker."""

    def __init__(self, url: str, name: str) -> None:
        self.url, self.name = url, name
        self.token = ""
        self.socket: LightSocket | None = None
        self.queues: dict[str, asyncio.Queue[Any]] = {}
        self.agent = ""
        self.agents: list[str] = []
        self.reset(0)

    def reset(self, episode: int) -> None:
        self.episode = episode
        self.known: dict[str, dict[int, int]] = {}  # confirmed inputs by agent and frame
        self.yours = DELAY - 1  # the last own frame the server has
        self.own: dict[int, int] = {}
        self.reported: list[dict[str, Any]] = []
        self.relays: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()
        self.twist: dict[int, str] = {}  # frame → a wrong state hash to report

    def queue(self, event: str) -> asyncio.Queue[Any]:
        return self.queues.setdefault(event, asyncio.Queue())

    async def next(self, event: str, timeout: float = 10) -> Any:
        return await asyncio.wait_for(self.queue(event).get(), timeout)

    async def start(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=20) as http:
            response = await http.post("/api/start", json={"params": {"PROLIFIC_PID": self.name}})
            response.raise_for_status()
            self.token = response.json()["token"]
        await self.connect()

    async def connect(self) -> None:
        socket = LightSocket()
        for event in (
            "game:member",
            "net:state_request",
            "net:load",
            "net:end",
            "net:episode_end",
            "room:matched",
        ):
            socket.on(event, self.queue(event).put_nowait)
        socket.on("net:inputs", self._inputs)
        await socket.connect(self.url, {"token": self.token, "tab": "tab-" + self.name})
        self.socket = socket

    async def call(self, event: str, payload: Any = None) -> dict[str, Any]:
        assert self.socket is not None
        answer: dict[str, Any] = await self.socket.call(event, payload, 20)
        return answer

    async def emit(self, event: str, payload: Any) -> None:
        assert self.socket is not None
        await self.socket.emit(event, payload)

    async def drop(self) -> None:
        assert self.socket is not None
        await self.socket.close()

    # the made-up game ---------------------------------------------------------------------

    def _inputs(self, message: dict[str, Any]) -> None:
        if message["episode"] != self.episode:
            return
        self.relays.append(message)
        for agent, block in message["inputs"].items():
            mine = self.known.setdefault(agent, {})
            for i, action in enumerate(block["actions"]):
                mine.setdefault(block["from"] + i, action)
        self.yours = max(self.yours, message["yours"])
        self.arrived.set()

    def prefill(self) -> None:
        for agent in self.agents:
            for frame in range(DELAY):
                self.known.setdefault(agent, {})[frame] = 0

    @property
    def confirmed(self) -> int:
        frame = -1
        while all(frame + 1 in self.known.get(a, {}) for a in self.agents):
            frame += 1
        return frame

    def report(self, frame: int) -> dict[str, Any]:
        # an input null is the stand-in's: say it chose 4
        actions = {a: v if (v := self.known[a][frame]) is not None else 4 for a in self.agents}
        done = frame == LENGTH - 1
        reward = {a: float(v) for a, v in actions.items()}
        one = {"frame": frame, "actions": actions, "reward": reward, "terminated": done,
               "truncated": False, "done": done, "info": {"f": frame}}  # fmt: skip
        if (frame + 1) % HASH_EVERY == 0 or done:
            one["hash"] = self.twist.get(frame, f"h{frame}")
        return one

    async def send(self, frame: int) -> None:
        """One ``net:input``: own inputs the server may lack, confirmed frame, recent reports."""
        first = self.yours + 1
        actions = [self.own[f] for f in range(first, max(self.own, default=-1) + 1)]
        keys = ["ArrowRight" if a == 2 else "" for a in actions]
        await self.emit("net:input", {
            "scene_id": "duel", "episode": self.episode, "from": first, "actions": actions,
            "keys": keys, "events": [["down", "ArrowRight", 12.5]] if actions else [],
            "frame": frame, "adv": 0, "ack": self.confirmed, "reports": self.reported[-8:],
        })  # fmt: skip

    async def play(self, frames: range, action: Any = lambda n: 2) -> None:
        """Simulate ``frames``: the own input for n + D, wait until frame n is confirmed
        (asking again now and then), report it."""
        for n in frames:
            self.own[n + DELAY] = action(n)
            self.known.setdefault(self.agent, {})[n + DELAY] = action(n)
            self.arrived.clear()
            await self.send(n)
            while self.confirmed < n:
                try:
                    await asyncio.wait_for(self.arrived.wait(), 0.1)
                except TimeoutError:
                    await self.send(n)
                self.arrived.clear()
            self.reported.append(self.report(n))
        for _ in range(3):  # the last reports, a few times (repeats are harmless)
            await self.send(frames.stop)
            await asyncio.sleep(0.05)


async def to_game(pages: list[Page]) -> str:
    """Every page through the waiting room into the group scene; the group's id."""
    for page in pages:
        await page.start()
        state = await page.call("study:state")
        assert state["scenes"][state["index"]]["scene_id"] == "lobby", state
    answers = [await page.call("room:join", {"scene_id": "lobby"}) for page in pages]
    group_ids = set()
    for page, answer in zip(pages, answers, strict=True):
        outcome = answer.get("outcome") or (await page.next("room:matched"))
        group_ids.add(outcome["group_id"])
        response = {"outcome": "matched", "group_id": outcome["group_id"]}
        moved = await page.call("study:advance", {"scene_id": "lobby", "response": response})
        assert moved["ok"], moved
    (group_id,) = group_ids
    return str(group_id)


async def join(page: Page) -> dict[str, Any]:
    answer = await page.call("net:join", {"scene_id": "duel"})
    assert answer["ok"], answer
    page.agent, page.agents = answer["agent_id"], answer["agents"]
    page.prefill()
    return answer


async def begin(pages: list[Page], episode: int = 0) -> list[dict[str, Any]]:
    answers = []
    for page in pages:
        page.reset(episode)
        page.prefill()
        answer = await page.call("net:episode", {"scene_id": "duel", "episode": episode})
        assert answer["ok"], answer
        answers.append(answer)
    plays = await asyncio.gather(
        *(p.call("net:play", {"scene_id": "duel", "episode": episode}) for p in pages)
    )
    assert all(p == {"ok": True, "start": True} for p in plays), plays
    return answers


@asynccontextmanager
async def pair(
    url: str, names: tuple[str, str] | None = None
) -> AsyncIterator[tuple[Page, Page, str]]:
    tag = uuid.uuid4().hex[:6]
    a, b = (Page(url, name) for name in names or (f"a{tag}", f"b{tag}"))
    try:
        group_id = await to_game([a, b])
        yield a, b, group_id
    finally:
        for page in (a, b):
            if page.socket is not None:
                await page.socket.close()


async def wait_for(check: Any, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting")


def steps_of(store: Store, group_id: str) -> list[dict[str, Any]]:
    return store.records(group_id, kind="step")


def events_of(store: Store, owner: str) -> list[dict[str, Any]]:
    return [r["data"] for r in store.records(owner, kind="event", scene_id="duel")]


async def test_two_members_play_an_episode_and_the_group_has_one_row_per_frame(
    tmp_path: Path,
) -> None:
    with net_server(tmp_path) as (url, store):
        async with pair(url) as (a, b, group_id):
            first = await join(a)
            assert first == {
                "ok": True, "agent_id": "0", "agents": ["0", "1"],
                "members": {"0": "here", "1": "away"}, "episode": None, "netcode": "rollback",
                "input_delay_frames": DELAY, "max_prediction_frames": 8,
                "hash_every_frames": HASH_EVERY, "stand_ins": {},
            }  # fmt: skip
            second = await join(b)
            assert second["agent_id"] == "1" and second["members"] == {"0": "here", "1": "here"}
            assert await a.next("game:member") == {"scene_id": "duel", "agent_id": "1",
                                                   "state": "here"}  # fmt: skip
            episodes = []
            for page in (a, b):
                page.reset(0)
                page.prefill()
                episodes.append(await page.call("net:episode", {"scene_id": "duel", "episode": 0}))
            assert episodes[0] == episodes[1] and episodes[0]["resume"] is None
            assert isinstance(episodes[0]["seed"], int)
            # net:play is a barrier: the first waits for the second
            waiting = asyncio.ensure_future(a.call("net:play", {"scene_id": "duel", "episode": 0}))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            assert await b.call("net:play", {"scene_id": "duel", "episode": 0}) == {
                "ok": True, "start": True}  # fmt: skip
            assert await asyncio.wait_for(waiting, 5) == {"ok": True, "start": True}
            await asyncio.gather(a.play(range(LENGTH)), b.play(range(LENGTH), lambda n: n % 3))
            rows = await wait_for(lambda: len(steps_of(store, group_id)) >= LENGTH and
                                  store.records(group_id, kind="episode"))  # fmt: skip
            relay = b.relays[-1]
            assert set(relay) == {"scene_id", "episode", "inputs", "frames", "advs", "yours"}
            assert relay["frames"]["0"] >= 0 and relay["advs"] == {"0": 0, "1": 0}
            assert all(len(block["actions"]) <= MAX_RESEND for block in relay["inputs"].values())
            # Once the episode's rows are stored, every member hears it.
            for page in (a, b):
                end = await page.next("net:episode_end")
                assert (end["episode"], end["summary"]["length"]) == (0, LENGTH)
            await asyncio.sleep(0.5)  # repeated reports never make a second row
    steps = steps_of(store, group_id)
    assert [r["step"] for r in steps] == list(range(LENGTH))
    assert {(r["episode"], r["attempt"]) for r in steps} == {(0, 0)}
    data = [r["data"] for r in steps]
    assert all(d["agreed"] and d["reports"] == 2 for d in data), data[0]
    assert [d["action_0"] for d in data] == [0, 0] + [2] * (LENGTH - 2)
    assert [d["action_1"] for d in data] == [0, 0] + [n % 3 for n in range(LENGTH - 2)]
    assert data[4]["state_hash"] == "h4" and data[5]["state_hash"] is None
    assert data[3]["keys_0"] == "ArrowRight" and data[3]["participant_1"] == b.name
    assert data[0]["participant_0"] == a.name and data[-1]["terminated"] is True
    assert data[3]["key_events_0"] == [["down", "ArrowRight", 12.5]]
    assert data[0]["runtime"] == "browser" and data[0]["group_id"] == group_id
    ((summary,),) = [rows]
    episode = summary["data"]
    assert episode["ended_by"] == "terminated" and episode["length"] == LENGTH
    assert episode["returns"]["0"] == 2.0 * (LENGTH - 2) and episode["desyncs"] == 0
    assert episode["participant_0"] == a.name and episode["runtime"] == "browser"
    kinds = [e["type"] for e in events_of(store, group_id)]
    assert kinds == ["group_game_ended"], kinds
    group = store.get_group(group_id)
    assert group is not None and group.scenes == {"duel": "completed"}


async def answer_states(page: Page, frame: int, count: int = 1) -> list[dict[str, Any]]:
    """Answer ``count`` state requests as the page's worker would (``netState``)."""
    asked = []
    for _ in range(count):
        request = await page.next("net:state_request")
        asked.append(request)
        await page.emit("net:state", {
            "scene_id": "duel", "episode": request["episode"], "request_id": request["request_id"],
            "frame": frame, "snapshot": {"env": {"x": [frame, frame]}, "host": {"t": frame}},
            "hash": f"s{frame}",
        })  # fmt: skip
    return asked


async def test_a_hash_mismatch_is_a_desync_repaired_from_the_first_member(tmp_path: Path) -> None:
    with net_server(tmp_path) as (url, store):
        async with pair(url) as (a, b, group_id):
            await join(a)
            await join(b)
            await begin([a, b])
            b.twist = {9: "drifted"}
            played = asyncio.gather(a.play(range(LENGTH)), b.play(range(LENGTH)))
            (request,) = await answer_states(a, frame=12)
            assert set(request) == {"scene_id", "episode", "request_id"}
            load = await b.next("net:load")
            assert load == {"scene_id": "duel", "episode": 0, "frame": 12,
                            "snapshot": {"env": {"x": [12, 12]}, "host": {"t": 12}},
                            "reason": "desync", "hash": "s12"}  # fmt: skip
            await played
            await wait_for(lambda: store.records(group_id, kind="episode"))
            assert a.queue("net:load").empty() and a.queue("net:state_request").empty()
            await asyncio.sleep(0.3)
    steps = [r["data"] for r in steps_of(store, group_id)]
    assert len(steps) == LENGTH
    assert [f for f, d in enumerate(steps) if not d["agreed"]] == [9]
    assert steps[9]["state_hash"] == "h9"
    (summary,) = store.records(group_id, kind="episode")
    assert summary["data"]["desyncs"] == 1
    for owner in (group_id, a.name, b.name):
        found = {e["type"]: e for e in events_of(store, owner)}
        assert found["desync"]["frame"] == 9 and found["desync"]["hashes"] == {
            "0": "h9", "1": "drifted"}  # fmt: skip
        repaired = found["desync_repaired"]
        assert (repaired["frame"], repaired["from_agent"], repaired["to"]) == (12, "0", ["1"])


async def test_a_member_dropping_is_away_and_back_with_a_resume(tmp_path: Path) -> None:
    with net_server(tmp_path) as (url, store):
        async with pair(url) as (a, b, group_id):
            await join(a)
            await join(b)
            await a.next("game:member")
            await begin([a, b])
            await asyncio.gather(a.play(range(10)), b.play(range(10)))
            await b.drop()
            assert await a.next("game:member") == {"scene_id": "duel", "agent_id": "1",
                                                   "state": "away", "wait_s": 5}  # fmt: skip
            # a cannot go on (when_member_away="pause"): nothing of b's is filled
            a.arrived.clear()
            await a.send(10)
            await asyncio.sleep(0.3)
            assert a.confirmed == 9 + DELAY
            # b's page reloads: a new socket, net:join, net:episode → resume, net:play at once
            b.queues.clear()
            await b.connect()
            again = await join(b)
            assert again["episode"] == 0 and again["members"] == {"0": "here", "1": "here"}
            assert (await a.next("game:member"))["state"] == "here"
            b.reset(0)
            # a's page cannot give its state now: no state, b asks again
            resumed = asyncio.ensure_future(
                b.call("net:episode", {"scene_id": "duel", "episode": 0})
            )
            request = await a.next("net:state_request")
            await a.emit("net:state", {"scene_id": "duel", "episode": 0, "error": "busy",
                                       "request_id": request["request_id"]})  # fmt: skip
            refused = await asyncio.wait_for(resumed, 3)
            assert refused["ok"] is False and refused["reason"] == "no_state", refused
            resumed = asyncio.ensure_future(
                b.call("net:episode", {"scene_id": "duel", "episode": 0})
            )
            await answer_states(a, frame=9)
            answer = await asyncio.wait_for(resumed, 10)
            resume = answer["resume"]
            assert answer["ok"] and resume["frame"] == 9 and resume["hash"] == "s9"
            assert resume["snapshot"] == {"env": {"x": [9, 9]}, "host": {"t": 9}}
            # every agent's logged inputs from frame 9: both sent theirs up to 9 + D
            assert resume["inputs"] == {a: {"from": 9, "actions": [2] * 3} for a in ("0", "1")}
            assert await b.call("net:play", {"scene_id": "duel", "episode": 0}) == {
                "ok": True, "start": True}  # fmt: skip
            for agent, block in resume["inputs"].items():
                for i, action in enumerate(block["actions"]):
                    b.known.setdefault(agent, {})[block["from"] + i] = action
            for agent in b.agents:
                for frame in range(9):
                    b.known.setdefault(agent, {})[frame] = 0  # before the snapshot: not needed
            b.yours = 11
            b.own = {f: 2 for f in range(9, 12)}
            await asyncio.gather(a.play(range(10, LENGTH)), b.play(range(9, LENGTH)))
            await wait_for(lambda: store.records(group_id, kind="episode"))
    steps = [r["data"] for r in steps_of(store, group_id)]
    assert [s["agreed"] for s in steps] == [True] * LENGTH
    assert [s["reports"] for s in steps[8:10]] == [2, 2]
    for owner in (group_id, a.name, b.name):
        kinds = [e["type"] for e in events_of(store, owner)]
        assert kinds[:2] == ["member_away", "member_back"], (owner, kinds)


async def test_with_default_action_the_server_fills_the_inputs_of_a_member_away(
    tmp_path: Path,
) -> None:
    with net_server(tmp_path, away="default_action") as (url, store):
        async with pair(url) as (a, b, group_id):
            await join(a)
            await join(b)
            await a.next("game:member")
            await begin([a, b])
            await asyncio.gather(a.play(range(10)), b.play(range(10)))
            await b.drop()
            assert (await a.next("game:member"))["state"] == "away"
            await a.play(range(10, LENGTH))  # never waits for b
            assert [a.known["1"][f] for f in range(12, LENGTH)] == [0] * (LENGTH - 12)
            await wait_for(lambda: store.records(group_id, kind="episode"))
    steps = [r["data"] for r in steps_of(store, group_id)]
    assert len(steps) == LENGTH and all(s["agreed"] for s in steps)
    assert [s["participant_1"] for s in steps[10:13]] == [b.name, b.name, "default"]
    assert {s["action_1"] for s in steps[12:]} == {0} and steps[-1]["reports"] == 1
    (summary,) = store.records(group_id, kind="episode")
    assert summary["data"]["ended_by"] == "terminated"
    assert summary["data"]["participant_1"] == "default"


async def test_after_the_window_a_stand_in_plays_the_member_who_left(tmp_path: Path) -> None:
    with net_server(tmp_path, reconnect_s=0.5, leave='StandIn({1: "random"})') as (url, store):
        async with pair(url) as (a, b, group_id):
            joined = await join(a)
            assert joined["stand_ins"] == {"1": {"kind": "random"}}  # every worker gets them
            await join(b)
            await a.next("game:member")
            await begin([a, b])
            await asyncio.gather(a.play(range(10)), b.play(range(10)))
            await b.drop()
            assert (await a.next("game:member"))["state"] == "away"
            assert await a.next("game:member") == {"scene_id": "duel", "agent_id": "1",
                                                   "state": "stand_in"}  # fmt: skip
            await a.play(range(10, LENGTH))
            assert a.known["1"][20] is None  # null: the stand-in plays it
            await wait_for(lambda: store.records(group_id, kind="episode"))
            await b.connect()
            refused = await b.call("net:join", {"scene_id": "duel"})
            assert refused["ok"] is False and refused["reason"] == "left_group", refused
    steps = [r["data"] for r in steps_of(store, group_id)]
    assert len(steps) == LENGTH
    assert steps[-1]["participant_1"] == "stand_in" and steps[-1]["action_1"] == 4
    for owner in (group_id, a.name, b.name):
        kinds = [e["type"] for e in events_of(store, owner)]
        assert kinds == ["member_away", "member_left", "stand_in", "group_game_ended"], kinds


async def test_with_end_the_episode_ends_as_member_left_and_the_other_is_told(
    tmp_path: Path,
) -> None:
    with net_server(tmp_path, reconnect_s=0.5, episodes=2) as (url, store):
        async with pair(url) as (a, b, group_id):
            await join(a)
            await join(b)
            await begin([a, b])
            await asyncio.gather(a.play(range(10)), b.play(range(10)))
            await b.drop()
            end = await a.next("net:end")
            assert end == {"scene_id": "duel", "reason": "member_left"}
            refused = await a.call("net:episode", {"scene_id": "duel", "episode": 1})
            assert refused["ok"] is False and refused["reason"] == "group_ended", refused
            refused = await a.call("net:join", {"scene_id": "duel"})
            assert refused["ok"] is False and refused["reason"] == "group_ended", refused
    (summary,) = store.records(group_id, kind="episode")
    assert summary["data"]["ended_by"] == "member_left" and summary["data"]["length"] == 10
    assert [r["step"] for r in steps_of(store, group_id)] == list(range(10))
    for owner in (group_id, a.name, b.name):
        kinds = [e["type"] for e in events_of(store, owner)]
        assert kinds == ["member_away", "member_left", "group_game_ended"], kinds
    group = store.get_group(group_id)
    assert group is not None and group.scenes == {"duel": "member_left"}


async def test_malformed_and_misplaced_messages_are_refused_with_a_reason(tmp_path: Path) -> None:
    with net_server(tmp_path, episodes=2) as (url, store):
        async with pair(url) as (a, b, group_id):
            refused = await b.call("net:episode", {"scene_id": "duel", "episode": 0})
            assert refused["reason"] == "not_joined" and "net:join" in refused["error"]
            for payload, reason, named in [
                ({"scene_id": "nope"}, "not_current", "scene_id"),
                ({"scene_id": "lobby"}, "not_current", "scene_id"),
                ({"scene_id": "duel", "x": 1}, "bad_request", "unknown field 'x'"),
                ([1], "bad_request", "one object"),
            ]:
                answer = await a.call("net:join", payload)
                assert answer["ok"] is False and answer["reason"] == reason, answer
                assert named in answer["error"], answer
            await join(a)
            good = {"scene_id": "duel", "episode": 0, "from": 2, "actions": [1], "frame": 0,
                    "adv": 0, "ack": 1, "reports": []}  # fmt: skip
            for change, named in [
                ({"actions": [9]}, "actions[0]"),
                ({"actions": "up"}, "actions:"),
                ({"from": -3}, "from:"),
                ({"reports": [{"frame": 0, "actions": {}}]}, "reports[0].terminated"),
                ({"events": [[1, 2, 3]]}, "events[0]"),
                ({"ack": None}, "ack:"),
            ]:
                answer = await a.call("net:input", {**good, **change})
                assert answer["ok"] is False and answer["reason"] == "bad_request", answer
                assert answer["error"].startswith(named), answer
            for event, payload, reason, named in [
                ("net:play", {"scene_id": "duel", "episode": 0}, "not_ready", "net:episode"),
                ("net:episode", {"scene_id": "duel", "episode": 2}, "bad_request", "episode:"),
                ("net:episode", {"scene_id": "duel"}, "bad_request", "episode:"),
                ("net:state", {"scene_id": "duel", "episode": 0, "request_id": "r1", "frame": 3,
                               "snapshot": {}, "hash": "h"}, "bad_request", "request_id:"),
                ("net:state", {"scene_id": "duel", "episode": 0, "request_id": "r1", "frame": 3,
                               "snapshot": [], "hash": "h"}, "bad_request", "snapshot:"),
                ("net:state", {"scene_id": "duel", "episode": 0, "request_id": "r1", "frame": 3,
                               "snapshot": "x" * 900_001, "hash": "h"}, "bad_request",
                 "snapshot: longer than 900000"),
                ("net:focus", {"scene_id": "duel", "hidden": 1}, "bad_request", "hidden:"),
            ]:  # fmt: skip
                answer = await a.call(event, payload)
                assert answer["ok"] is False and answer["reason"] == reason, (event, answer)
                assert named in answer["error"], answer
            # a participant still in the waiting room: not at a group game in the browser
            waiting = Page(url, "c" + uuid.uuid4().hex[:6])
            await waiting.start()
            try:
                answer = await waiting.call("net:join", {"scene_id": "lobby"})
                assert answer["reason"] == "not_net_game" and "lobby" in answer["error"], answer
                answer = await waiting.call("net:join", {"scene_id": "duel"})
                assert answer["reason"] == "not_current", answer
            finally:
                await waiting.drop()
            # nothing above broke the game
            answer = await a.call("net:episode", {"scene_id": "duel", "episode": 0})
            assert answer["ok"] and answer["resume"] is None
    with open(tmp_path / "server.log") as server_log:
        text = server_log.read()
    assert "net:input from" in text and "refused: actions[0]" in text
    assert "Traceback" not in text


async def test_through_a_lossy_slow_link_every_frame_is_written_once(tmp_path: Path) -> None:
    names = ("na" + uuid.uuid4().hex[:6], "nb" + uuid.uuid4().hex[:6])
    netem = f"latency=10ms,jitter=8ms,loss=15%,seed=4;{names[1]}:latency=70ms"
    with net_server(tmp_path, netem=netem) as (url, store):
        async with pair(url, names) as (a, b, group_id):
            started = time.monotonic()
            await join(a)
            fast = time.monotonic() - started
            started = time.monotonic()
            await join(b)
            slow = time.monotonic() - started
            assert slow >= 0.14 and slow > fast + 0.05, (slow, fast)  # twice b's latency
            await begin([a, b])
            await asyncio.gather(a.play(range(LENGTH)), b.play(range(LENGTH), lambda n: n % 3))
            await wait_for(lambda: store.records(group_id, kind="episode"), timeout=30)
    steps = [r["data"] for r in steps_of(store, group_id)]
    assert [r["step"] for r in steps_of(store, group_id)] == list(range(LENGTH))
    assert all(s["agreed"] for s in steps)
    assert [s["action_1"] for s in steps] == [0, 0] + [n % 3 for n in range(LENGTH - 2)]


async def test_netem_delays_the_server_runtimes_frames_too(tmp_path: Path) -> None:
    from server_games_app import app_with_games
    from test_server_games import SECRET, study, ticker_scene
    from test_server_games import Page as ServerPage

    from interactive_gym.local_server import serve
    from interactive_gym.server import Settings

    async def first_frame_after_play(netem: str | None) -> float:
        folder = tmp_path / (netem or "none").replace("=", "")
        folder.mkdir()
        settings = Settings(db_url=f"sqlite:///{folder / 'study.db'}", secret=SECRET,
                            wheelhouse=folder / "wheels", netem=netem)  # fmt: skip
        app, _ = app_with_games(settings, study(folder, ticker_scene()))
        with serve(app) as url:
            page = ServerPage(url)
            try:
                await page.start("p1")
                await page.connect()
                await page.to_game()
                assert (await page.call("game:open", {"scene_id": "game"}))["ok"]
                await page.call("game:episode", {"scene_id": "game", "episode": 0})
                started = time.monotonic()
                await page.call("game:play", {"scene_id": "game", "episode": 0})
                await page.press(1, "ArrowRight")
                first = await page.frame()
                waited = time.monotonic() - started
                frames = [first] + [await page.frame() for _ in range(8)]
                assert [f["step"] for f in frames] == list(range(9))  # in order
                return waited
            finally:
                await page.close()

    plain = await first_frame_after_play(None)
    delayed = await first_frame_after_play("latency=250ms,jitter=20ms")
    assert delayed >= 0.23 and delayed > plain + 0.1, (plain, delayed)


async def test_a_frame_one_member_never_reports_is_written_after_a_while(tmp_path: Path) -> None:
    with net_server(tmp_path) as (url, store):
        async with pair(url) as (a, b, group_id):
            await join(a)
            await join(b)
            await begin([a, b])
            # b's page stops before the last frame (say it froze): a's report of it must do
            await asyncio.gather(a.play(range(LENGTH)), b.play(range(LENGTH - 1)))
            started = time.monotonic()
            await wait_for(lambda: store.records(group_id, kind="episode"))
            assert 1.0 < time.monotonic() - started < 6
    steps = [r["data"] for r in steps_of(store, group_id)]
    assert len(steps) == LENGTH and steps[-1]["reports"] == 1 and steps[-2]["reports"] == 2
    (summary,) = store.records(group_id, kind="episode")
    assert summary["data"]["ended_by"] == "terminated"


async def test_a_member_still_finishing_the_last_episode_gets_its_lost_inputs(
    tmp_path: Path,
) -> None:
    """The others started the next episode; a member whose last relays of the episode before
    were lost asks with an old ack and gets them again (else it would wait forever)."""
    with net_server(tmp_path, episodes=2) as (url, store):
        async with pair(url) as (a, b, group_id):
            await join(a)
            await join(b)
            await begin([a, b])
            await asyncio.gather(a.play(range(LENGTH)), b.play(range(LENGTH)))
            await wait_for(lambda: store.records(group_id, kind="episode"))
            a.reset(1)
            started = await a.call("net:episode", {"scene_id": "duel", "episode": 1})
            assert started["ok"] and started["episode"] == 1
            b.relays.clear()
            await b.emit("net:input", {
                "scene_id": "duel", "episode": 0, "from": LENGTH + DELAY, "actions": [],
                "keys": [], "events": [], "frame": LENGTH, "adv": 0, "ack": 5, "reports": [],
            })  # fmt: skip
            await wait_for(lambda: b.relays)
    (relay,) = b.relays
    assert relay["episode"] == 0
    assert relay["inputs"]["0"]["from"] == 6 and len(relay["inputs"]["0"]["actions"]) > 10


async def test_a_member_hidden_too_long_is_taken_as_gone(tmp_path: Path) -> None:
    """``net:focus {hidden: true}``: the others are told; past ``reconnect_s`` the member is
    gone (``on_member_leave="end"``): everyone, the hidden page too, gets ``net:end``."""
    with net_server(tmp_path, reconnect_s=0.5) as (url, store):
        async with pair(url) as (a, b, group_id):
            await join(a)
            await join(b)
            await a.next("game:member")
            await begin([a, b])
            await asyncio.gather(a.play(range(6)), b.play(range(6)))
            bad = await b.call("net:focus", {"scene_id": "duel", "hidden": "yes"})
            assert bad["ok"] is False and "hidden: expected true or false" in bad["error"]
            await b.call("net:focus", {"scene_id": "duel", "hidden": True})
            told = await a.next("game:member")
            assert (told["agent_id"], told["state"], told["wait_s"]) == ("1", "hidden", 0.5)
            for page in (a, b):
                assert (await page.next("net:end", timeout=5))["reason"] == "member_left"
            await wait_for(lambda: store.records(group_id, kind="episode"))
    (summary,) = store.records(group_id, kind="episode")
    assert summary["data"]["ended_by"] == "member_left"
    kinds = [e["type"] for e in events_of(store, group_id)]
    assert kinds[:2] == ["member_hidden", "member_left"], kinds
