"""The group games running now: made by a group's first member to open a group scene, joined
by the others, ended and closed (``group_game.py`` is one of them, ``server_games.py`` the
socket events that reach them here).

``open`` finds the participant's group for the scene (``Groups.group_for``; none: refused
``"no_group"``; the participant left it: ``"left_group"``). The game is built with the group's
context (``Groups.context``: the group's seed, so every member sees the same episodes) and the
stand-ins of the group's missing members (the waiting room's ``on_timeout`` StandIn), its
records are the group's own (owner: the group id).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from interactive_gym.server.game_records import GameRecords
from interactive_gym.server.group_clock import GroupClock
from interactive_gym.server.group_game import GroupGame
from interactive_gym.server.seated_game import (
    GameRefused,
    GroupDirectory,
    room_stand_ins,
    seats_of,
)
from interactive_gym.study import GymScene

if TYPE_CHECKING:
    from interactive_gym.server.server_games import ServerGames


class GroupGames:
    """The group games of a server, by (group id, scene id)."""

    def __init__(self, games: ServerGames, groups: GroupDirectory | None) -> None:
        self.games = games
        self.groups = groups
        self.running: dict[tuple[str, str], GroupGame] = {}

    async def open(
        self, sid: str, participant_id: str, scene: GymScene
    ) -> tuple[GroupGame, dict[str, Any]]:
        """Join the group's game of ``scene`` (the first member to open it makes it): the game
        and the member's part of the answer (``agent_id``, ``members``, ``resume?``)."""
        scene_id = scene.scene_id
        group = await self.groups.group_for(participant_id, scene_id) if self.groups else None
        if group is None:
            raise GameRefused(f"scene_id: no group of yours plays {scene_id!r:.60}", "no_group")
        if participant_id in group.left:
            raise GameRefused("you left this group's games", "left_group")
        key = (group.group_id, scene_id)
        async with self.games.lock_for(group.group_id):
            game = self.running.get(key)
            if game is None:
                ended = group.scenes.get(scene_id)
                if ended is not None:
                    word = "group_ended" if ended == "member_left" else "over"
                    raise GameRefused(f"the group's game of {scene_id!r:.60} is over", word)
                game = await self._make(group, scene)
                self.running[key] = game
                game.start(participant_id)
            async with game.lock:
                return game, game.join(participant_id, sid)

    async def _make(self, group: Any, scene: GymScene) -> GroupGame:
        assert self.groups is not None
        games = self.games
        ctx = self.groups.context(group)
        seats = seats_of(group, scene)
        room = games.experiment.room_of(scene.scene_id)
        stand_ins = room_stand_ins(room, group, ctx.seed, scene.scene_id)
        game_id = f"{group.group_id}/{scene.scene_id}/{uuid.uuid4().hex[:12]}"
        spec = scene.game_spec(ctx, stand_ins=stand_ins)
        info = await games.pool.open(game_id, spec, timeout_s=scene.load_timeout_s)
        records = GameRecords(
            games.writer,
            games.seqs,
            group.group_id,
            scene.scene_id,
            limits=games.store.limits,
            flush_every=scene.fps,
        )
        clock = GroupClock(
            seats=seats,
            group_id=group.group_id,
            pool=games.pool,
            game_id=game_id,
            scene=scene,
            seeds=scene.episode_seeds(ctx),
            records=records,
            emit=self._nowhere,  # the game sends to its members
            info=info,
            metronome=games.metronomes.get(scene.fps),
        )
        return GroupGame(
            group=group,
            scene=scene,
            clock=clock,
            seats=seats,
            directory=self.groups,
            events=games.events,
            send=self._send,
        )

    @staticmethod
    async def _nowhere(event: str, payload: dict[str, Any]) -> None:
        return None

    async def _send(self, event: str, payload: dict[str, Any], sids: list[str]) -> None:
        """One message to several sockets, encoded once (``fanout.py``)."""
        await self.games.fanout(self.games.sio, event, payload, sids)

    async def episode(self, game: GroupGame, episode: int, attempt: int) -> dict[str, Any]:
        """The first member's ``game:episode`` resets the env; the others get its answer."""
        async with game.lock:
            cached = game.cached(episode)
            if cached is not None:
                return cached
            attempt = await self.games.free_attempt(game.group_id, game.scene_id, episode, attempt)
            return await game.reset(episode, attempt)

    async def leave(self, participant_id: str, game: GroupGame) -> None:
        """A member's page is done with the game (closed it, or opened another scene): away
        while episodes remain; the game closes once every member is done with it."""
        if not game.done():
            game.away(participant_id)
        elif game.detach(participant_id):
            await game.close()
            self.running.pop((game.group_id, game.scene_id), None)

    async def close(self) -> None:
        """Stop every group game (at shutdown)."""
        for game in list(self.running.values()):
            await game.close()
