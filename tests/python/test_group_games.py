"""Group games the server runs, played by socket clients acting as the members' pages.

A real uvicorn server with the real app and env pool, a tiny pure-Python env of 2 or 3 agents
(each adds its action to a shared counter), groups stored as a waiting room would form them,
and the members placed at the group scene; each client speaks the ``game:*`` protocol of
``server_games.py`` as the page's socket channel does.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import textwrap
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from server_games_app import app_with_games, starlette_of
from test_server_games import SECRET, Page

from interactive_gym.data import Group, GroupMember, Store
from interactive_gym.local_server import serve
from interactive_gym.server import Settings
from interactive_gym.server.groups import Groups
from interactive_gym.study import (
    EndScene,
    Experiment,
    GymScene,
    StandIn,
    StaticScene,
    WaitingRoom,
)
from interactive_gym.verify import verify

COUNTER = textwrap.dedent(
    """
    num_actions = 3


    class Counter:
        render_size = (60, 20)

        def __init__(self, players=2, length=30):
            self.possible_agents = list(range(players))
            self.length = length

        def reset(self, seed=None, options=None):
            self.t = 0
            self.total = 0
            agents = self.possible_agents
            return {a: [0, 0] for a in agents}, {a: {} for a in agents}

        def step(self, actions):
            agents = self.possible_agents
            self.t += 1
            self.total += sum(actions.values())
            observations = {a: [self.t, self.total] for a in agents}
            rewards = {a: float(actions[a]) for a in agents}
            over = self.t >= self.length
            ended, cut = {a: over for a in agents}, {a: False for a in agents}
            return observations, rewards, ended, cut, {a: {"total": self.total} for a in agents}

        def render(self):
            return [{"type": "rect", "id": "bar", "x": 0, "y": 0, "w": min(1, self.t / 100),
                     "h": 1, "fill": "#336699"}]

        def get_state(self):
            return {"t": self.t, "total": self.total}

        def set_state(self, state):
            self.t, self.total = state["t"], state["total"]


    def make_env(**config):
        return Counter(**config)
    """
)


def group_study(folder: Path, players: int = 2, **options: Any) -> Experiment:
    (folder / "counter.py").write_text(COUNTER)
    length = options.pop("length", 30)
    game = GymScene(
        "game",
        runtime="server",
        env_file="counter.py",
        env_config={"players": players, "length": length},
        agents={a: "human" for a in range(players)},
        controls={"ArrowRight": 1, "ArrowUp": 2},
        default_action=0,
        fps=30,
        episodes=options.pop("episodes", 1),
        countdown_s=0,
        **{"reconnect_s": 5, **options},
    )
    return Experiment(
        "group_games",
        scenes=[
            StaticScene("consent", html="<p>c</p>", consent="I agree"),
            WaitingRoom("room"),
            game,
            EndScene(),
        ],
        base_dir=folder,
        seed=0,
    )


@contextmanager
def server(tmp_path: Path, experiment: Experiment) -> Iterator[tuple[str, Store]]:
    db = f"sqlite:///{tmp_path / 'study.db'}"
    settings = Settings(db_url=db, secret=SECRET, wheelhouse=tmp_path / "wheels")
    app, games = app_with_games(settings, experiment)
    if games.group_side.groups is None:  # not wired by the app: the real directory
        games.group_side.groups = Groups(experiment, starlette_of(app).state.store)
    store = Store(db)
    try:
        with serve(app) as url:
            yield url, store
    finally:
        store.close()


class Member(Page):
    """A member's page: also hears ``game:member``."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.states: asyncio.Queue[dict] = asyncio.Queue()

    async def connect(self) -> Any:
        client = await super().connect()
        client.on("game:member", self.states.put_nowait)
        return client

    async def state(self, timeout: float = 10) -> dict:
        return await asyncio.wait_for(self.states.get(), timeout)

    async def open(self) -> dict:
        answer = await self.call("game:open", {"scene_id": "game"})
        assert answer["ok"], answer
        return answer


async def members(
    url: str, store: Store, stack: AsyncExitStack, n: int
) -> tuple[list[Member], str]:
    """``n`` pages at the group scene, in one stored group (member i plays agent i)."""
    pages = []
    for i in range(n):
        page = Member(url)
        stack.push_async_callback(page.close)
        await page.start(f"m{i}")
        await page.connect()
        pages.append(page)
    group_id = "g" + secrets.token_hex(8)[1:]
    store.create_group(
        Group(
            group_id=group_id,
            experiment_id="group_games",
            room_id="room",
            condition=None,
            members=tuple(GroupMember(p.participant_id, str(i), 1.0) for i, p in enumerate(pages)),
            stand_ins={},
            formed_at=datetime.now(UTC),
        )
    )
    for p in pages:
        store.update_participant(p.participant_id, scene_index=2, scene_id="game")
    return pages, group_id


async def open_all(pages: list[Member]) -> list[dict]:
    """Every member opens the game; those who opened first heard the others arrive."""
    opened = [await p.open() for p in pages]
    for i, p in enumerate(pages):
        arrived = [(await p.state())["agent_id"] for _ in pages[i + 1 :]]
        assert arrived == [str(j) for j in range(i + 1, len(pages))]
        assert p.states.empty()
    return opened


async def start_all(pages: list[Member], episode: int = 0) -> list[dict]:
    answers = []
    for p in pages:
        answer = await p.call("game:episode", {"scene_id": "game", "episode": episode})
        assert answer["ok"], answer
        answers.append(answer)
    for p in pages:
        assert (await p.call("game:play", {"scene_id": "game", "episode": episode}))["ok"]
    return answers


async def frames_until_done(p: Member) -> list[dict]:
    frames: list[dict] = []
    while not frames or not frames[-1]["done"]:
        frames.append(await p.frame())
    return frames


async def press(p: Member, action: int) -> None:
    await p.press(action, "ArrowRight" if action == 1 else "ArrowUp")


async def wait_for(check: Any, timeout: float = 8) -> Any:
    for _ in range(int(timeout / 0.05)):
        value = check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting")


def events(store: Store, owner: str) -> list[dict]:
    return [r["data"] for r in store.records(owner, kind="event")]


# --- the whole game ---------------------------------------------------------------------------


async def test_members_see_the_same_frames_and_the_group_has_one_step_record_per_step(
    tmp_path: Path,
) -> None:
    experiment = group_study(tmp_path, players=3, length=20, record_state_hash_every=6)
    with server(tmp_path, experiment) as (url, store):
        async with AsyncExitStack() as stack:
            pages, group_id = await members(url, store, stack, 3)
            opened = await open_all(pages)
            assert [o["agent_id"] for o in opened] == ["0", "1", "2"]
            assert opened[0]["members"] == {"0": "here", "1": "away", "2": "away"}
            assert opened[2]["members"] == {"0": "here", "1": "here", "2": "here"}
            assert "resume" not in opened[0]
            firsts = await start_all(pages)
            assert len({(a["seed"], a["attempt"]) for a in firsts}) == 1
            await press(pages[0], 1)
            await press(pages[2], 2)
            seen = [await frames_until_done(p) for p in pages]
            ends = [await asyncio.wait_for(p.ends.get(), 10) for p in pages]
    steps = [[(f["step"], f["reward"], json.dumps(f["render"]["draw"])) for f in s] for s in seen]
    assert steps[0] == steps[1] == steps[2] and len(steps[0]) == 20
    assert all(e["summary"]["ended_by"] == "terminated" for e in ends)
    assert all("reason" not in e for e in ends)
    # one canonical step record per step, the group's, with who played each agent
    records = store.records(group_id, kind="step")
    assert [r["step"] for r in records] == list(range(20))
    last = records[-1]["data"]
    assert last["group_id"] == group_id
    ids = [p.participant_id for p in pages]
    assert [last[f"participant_{a}"] for a in "012"] == ids
    assert (last["action_0"], last["action_1"], last["action_2"]) == (1, 0, 2)
    assert last["keys_0"] == "ArrowRight" and last["input_seq_2"] == 1
    assert "keys" not in last and "input_seq" not in last
    (summary,) = store.records(group_id, kind="episode")
    assert summary["data"]["ended_by"] == "terminated" and summary["data"]["length"] == 20
    assert summary["data"]["returns"]["0"] > 0 and summary["data"]["returns"]["1"] == 0
    for pid in ids:  # the members' own data holds no steps
        assert store.records(pid, kind="step") == []
    assert store.get_group(group_id).scenes == {"game": "completed"}  # type: ignore[union-attr]
    # the env's state hash on every 6th step and the last; the verify command replays them
    assert [r["step"] for r in records if r["data"].get("state_hash")] == [5, 11, 17, 19]
    assert verified(store, experiment) == [(group_id, 0, "verified")]


def verified(store: Store, experiment: Experiment) -> list[tuple[str, int, str]]:
    """``(owner, episode, status)`` of every run the verify command replays."""
    return [(c.owner, c.verdict.episode, c.verdict.status) for c in verify(store, experiment)]


# --- members coming and going -----------------------------------------------------------------


async def test_a_member_away_pauses_the_game_and_a_reload_within_the_window_resumes_it(
    tmp_path: Path,
) -> None:
    experiment = group_study(tmp_path, players=3, length=60)
    with server(tmp_path, experiment) as (url, store):
        async with AsyncExitStack() as stack:
            pages, group_id = await members(url, store, stack, 3)
            await open_all(pages)
            await start_all(pages)
            for _ in range(5):
                await pages[0].frame()
            gone = pages[2]
            assert gone.client is not None
            await gone.client.disconnect()
            for p in pages[:2]:
                news = await p.state()
                assert news == {"scene_id": "game", "agent_id": "2", "state": "away", "wait_s": 5}
            await asyncio.sleep(0.3)
            while not pages[0].frames.empty():
                pages[0].frames.get_nowait()
            await asyncio.sleep(0.3)
            assert pages[0].frames.empty()  # paused while the member is away
            # the page reloads: a new socket, game:open again
            await gone.connect()
            again = await gone.open()
            assert again["agent_id"] == "2" and again["resume"]["episode"] == 0
            assert again["members"]["2"] == "here"
            for p in pages[:2]:
                assert (await p.state())["state"] == "here"
            resumed = await gone.call("game:episode", {"scene_id": "game", "episode": 0})
            assert resumed["ok"] and resumed["attempt"] == 0
            await asyncio.sleep(0.2)
            assert pages[0].frames.empty()  # until the member back plays again
            assert (await gone.call("game:play", {"scene_id": "game", "episode": 0}))["ok"]
            frames = await frames_until_done(pages[0])
            assert frames[0]["step"] == again["resume"]["step"]
    assert [r["step"] for r in store.records(group_id, kind="step")] == list(range(60))
    for owner in [group_id, *(p.participant_id for p in pages)]:
        kinds = [e["type"] for e in events(store, owner)]
        assert kinds[:2] == ["member_away", "member_back"], (owner, kinds)
        away = events(store, owner)[0]
        assert away["agent_id"] == "2" and away["participant_id"] == pages[2].participant_id


async def test_after_the_window_a_stand_in_plays_the_member_who_left(tmp_path: Path) -> None:
    experiment = group_study(
        tmp_path, length=60, reconnect_s=0.3, on_member_leave=StandIn({1: "random"})
    )
    with server(tmp_path, experiment) as (url, store):
        async with AsyncExitStack() as stack:
            (stay, gone), group_id = await members(url, store, stack, 2)
            await open_all([stay, gone])
            await start_all([stay, gone])
            for _ in range(3):
                await stay.frame()
            assert gone.client is not None
            await gone.client.disconnect()
            assert (await stay.state())["state"] == "away"
            assert (await stay.state()) == {
                "scene_id": "game",
                "agent_id": "1",
                "state": "stand_in",
            }
            frames = await frames_until_done(stay)
            assert frames[-1]["step"] == 59
            await gone.connect()
            refused = await gone.call("game:open", {"scene_id": "game"})
            assert refused["ok"] is False and refused["reason"] == "left_group", refused
    steps = store.records(group_id, kind="step")
    assert [r["step"] for r in steps] == list(range(60))
    assert steps[-1]["data"]["participant_1"] == "stand_in"
    assert steps[0]["data"]["participant_1"] == gone.participant_id
    (summary,) = store.records(group_id, kind="episode")
    assert summary["data"]["ended_by"] == "terminated"
    kinds = [e["type"] for e in events(store, stay.participant_id)]
    assert kinds[:3] == ["member_away", "member_left", "stand_in"]
    assert store.get_group(group_id).left == {gone.participant_id: "game"}  # type: ignore[union-attr]
    # the stand-in's draws are its seeded generator's: the game replays as recorded
    assert verified(store, experiment) == [(group_id, 0, "verified")]


async def test_with_end_the_episode_ends_as_member_left_and_the_others_are_told(
    tmp_path: Path,
) -> None:
    experiment = group_study(tmp_path, length=500, reconnect_s=0.3, episodes=2)
    with server(tmp_path, experiment) as (url, store):
        async with AsyncExitStack() as stack:
            (stay, gone), group_id = await members(url, store, stack, 2)
            await open_all([stay, gone])
            await start_all([stay, gone])
            for _ in range(4):
                await stay.frame()
            assert gone.client is not None
            await gone.client.disconnect()
            end = await asyncio.wait_for(stay.ends.get(), 10)
            assert end["reason"] == "member_left" and end["episode"] == 0
            assert end["summary"]["ended_by"] == "member_left"
            refused = await stay.call("game:episode", {"scene_id": "game", "episode": 1})
            assert refused["ok"] is False and refused["reason"] == "group_ended"
    (summary,) = store.records(group_id, kind="episode")
    assert summary["data"]["ended_by"] == "member_left"
    length = summary["data"]["length"]
    assert length >= 4
    assert [r["step"] for r in store.records(group_id, kind="step")] == list(range(length))
    for owner in (group_id, stay.participant_id, gone.participant_id):
        kinds = [e["type"] for e in events(store, owner)]
        assert kinds == ["member_away", "member_left", "group_game_ended"], (owner, kinds)
    group = store.get_group(group_id)
    assert group is not None and group.scenes == {"game": "member_left"}
    assert group.left == {gone.participant_id: "game"}


async def test_with_default_action_the_game_plays_on_while_a_member_is_away(
    tmp_path: Path,
) -> None:
    experiment = group_study(tmp_path, length=40, when_member_away="default_action")
    with server(tmp_path, experiment) as (url, store):
        async with AsyncExitStack() as stack:
            (stay, gone), group_id = await members(url, store, stack, 2)
            await open_all([stay, gone])
            await start_all([stay, gone])
            await press(gone, 2)
            for _ in range(3):
                await stay.frame()
            assert gone.client is not None
            await gone.client.disconnect()
            assert (await stay.state())["state"] == "away"
            frames = await frames_until_done(stay)
            assert frames[-1]["step"] == 39
    steps = [r["data"] for r in store.records(group_id, kind="step")]
    assert len(steps) == 40
    assert steps[-1]["participant_1"] == "default" and steps[-1]["action_1"] == 0
    assert any(s["participant_1"] == gone.participant_id and s["action_1"] == 2 for s in steps)


async def test_a_participant_without_a_group_is_refused(tmp_path: Path) -> None:
    experiment = group_study(tmp_path)
    with server(tmp_path, experiment) as (url, store):
        async with AsyncExitStack() as stack:
            alone = Member(url)
            stack.push_async_callback(alone.close)
            await alone.start("alone")
            await alone.connect()
            store.update_participant(alone.participant_id, scene_index=2, scene_id="game")
            refused = await alone.call("game:open", {"scene_id": "game"})
            assert refused["ok"] is False and refused["reason"] == "no_group"


async def test_a_member_hidden_too_long_is_taken_as_gone_and_nobody_waits_for_ever(
    tmp_path: Path,
) -> None:
    experiment = group_study(tmp_path, length=500, reconnect_s=0.5, episodes=1)
    with server(tmp_path, experiment) as (url, store):
        async with AsyncExitStack() as stack:
            (stay, hides), group_id = await members(url, store, stack, 2)
            await open_all([stay, hides])
            await start_all([stay, hides])
            for _ in range(3):
                await stay.frame()
            answer = await hides.call("game:pause", {"scene_id": "game"})
            assert answer["ok"] is True, answer
            told = await stay.state()
            assert told["state"] == "hidden" and told["wait_s"] == 0.5, told
            # Shown again in time: the others hear it, and the game goes on.
            await hides.call("game:resume", {"scene_id": "game"})
            assert (await stay.state())["state"] == "here"
            await hides.call("game:pause", {"scene_id": "game"})
            assert (await stay.state())["state"] == "hidden"
            # Hidden past reconnect_s: on_member_leave ("end") applies; both pages are told.
            end = await asyncio.wait_for(stay.ends.get(), 10)
            assert end["reason"] == "member_left" and "left" not in end
            mine = await asyncio.wait_for(hides.ends.get(), 10)
            assert mine["reason"] == "member_left" and mine["left"] is True
    group = store.get_group(group_id)
    assert group is not None and group.left == {hides.participant_id: "game"}
    kinds = [e["type"] for e in events(store, stay.participant_id)]
    assert kinds == ["member_hidden", "member_hidden", "member_left", "group_game_ended"], kinds


async def test_hostile_pages_cannot_fake_a_group_or_leave_a_room_without_its_answer(
    tmp_path: Path,
) -> None:
    experiment = group_study(tmp_path, length=500)
    with server(tmp_path, experiment) as (url, store):
        async with AsyncExitStack() as stack:
            (a, b), group_id = await members(url, store, stack, 2)
            # A page at the room, not matched: it cannot leave the room, whatever it claims.
            waiting = Member(url)
            stack.push_async_callback(waiting.close)
            await waiting.start("waiting")
            await waiting.connect()
            store.update_participant(waiting.participant_id, scene_index=1, scene_id="room")
            claim = {"outcome": "matched", "group_id": group_id}
            refused = await waiting.call("study:advance", {"scene_id": "room", "response": claim})
            assert refused["ok"] is False and "still waiting" in refused["error"], refused
            # ... nor open the group's game (not its scene, not its group).
            refused = await waiting.call("game:open", {"scene_id": "game"})
            assert refused["ok"] is False and refused["reason"] == "not_current", refused
            # Malformed game events are refused with a reason.
            for payload in ([1], {"scene_id": "game", "agent_id": "1"}, {"scene_id": 3}):
                refused = await a.call("game:open", payload)
                assert refused["ok"] is False and refused["reason"] == "bad_request", payload
            # A member cannot end the scene as "group_ended" when nobody left.
            await open_all([a, b])
            ended = {"status": "group_ended", "episodes": 0, "error": None}
            refused = await a.call("study:advance", {"scene_id": "game", "response": ended})
            assert refused["ok"] is False and refused.get("field") == "status", refused
            # A member's input drives their own agent only: the agent comes from the server.
            await start_all([a, b])
            await press(b, 1)
            frames = [await a.frame() for _ in range(6)]
            assert frames[-1]["input_seqs"]["1"] >= 1 and frames[-1]["input_seqs"]["0"] == -1
    group = store.get_group(group_id)
    assert group is not None and group.left == {} and group.scenes == {}
