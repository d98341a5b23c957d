"""One episode of a browser group game on the server: the input log and the rows made from it.

Pure logic (no socket, no clock, no store): ``net_game.py`` feeds it the members' ``net:input``
messages and writes what it hands back.

:class:`InputLog` is the authoritative input log of the episode's human agents. Frames
``0 .. D-1`` (``D = input_delay_frames``) hold ``default_action`` for every human agent before
any message; after that an agent's inputs only grow at its end: the first value given for a
frame wins and is never overwritten, and a message that starts past the end (a gap) adds
nothing. Inputs the server fills itself (``default_action`` for a member away with
``when_member_away="default_action"``, ``None`` for an agent a stand-in plays) are appended the
same way. The *confirmed* frame is the last frame every human agent has an input for.

:class:`EpisodeRows` keeps the members' reports of their final frames (``{frame, actions,
reward, terminated, truncated, done, info, hash?}``) until the frame's canonical step row is
made: once, in frame order, when its inputs are confirmed and every member here reported it
(or it is ``2 × fps`` frames behind the newest report, or the caller says it waited long
enough: ``overdue``). Reports of a frame already written are
ignored, so repeated or late reports never make a second row. A report of a hashed frame whose
``hash`` differs from another member's is a desync (:meth:`EpisodeRows.add` says so). The
episode ends at the first row whose report says ``done`` (or at ``max_steps``).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from interactive_gym.runtime.plain import json_safe

#: Most frames of one agent in one ``net:inputs`` message.
MAX_RESEND = 64
#: Hashes of written frames kept for late reports, in multiples of ``fps`` frames.
KEEP_HASHES_S = 4


@dataclass(frozen=True)
class Report:
    """A member's report of one final frame (the worker's ``netAdvance`` result)."""

    frame: int
    actions: Mapping[str, Any]
    reward: Any
    terminated: bool
    truncated: bool
    done: bool
    info: Any = None
    hash: str | None = None
    max_steps_reached: bool = False

    def same(self, other: Report) -> bool:
        """Whether two members' reports of a frame agree (actions, rewards, flags, hash)."""
        return (
            self.actions == other.actions
            and self.reward == other.reward
            and self.terminated == other.terminated
            and self.truncated == other.truncated
            and self.done == other.done
            and self.hash == other.hash
        )


class InputLog:
    """The inputs of every human agent of one episode, by frame: first value wins."""

    def __init__(
        self, humans: Sequence[str], delay: int, default_action: Any, who: Mapping[str, str]
    ) -> None:
        self.humans = list(humans)
        self.delay = delay
        self.default_action = default_action
        self.actions: dict[str, list[Any]] = {a: [default_action] * delay for a in humans}
        #: Who gave each input: a participant id, "default" (filled while away), "stand_in".
        self.who: dict[str, list[str]] = {a: [who.get(a, "default")] * delay for a in humans}
        self.keys: dict[str, list[str]] = {a: [""] * delay for a in humans}
        self.events: dict[str, dict[int, list[Any]]] = {a: {} for a in humans}

    def length(self, agent: str) -> int:
        """How many frames of ``agent`` the log has (its next frame)."""
        return len(self.actions[agent])

    @property
    def confirmed(self) -> int:
        """The last frame every human agent has an input for (-1: none)."""
        return min(len(a) for a in self.actions.values()) - 1

    @property
    def newest(self) -> int:
        """The last frame any human agent has an input for."""
        return max(len(a) for a in self.actions.values()) - 1

    def add(
        self,
        agent: str,
        start: int,
        actions: Sequence[Any],
        who: str,
        keys: Sequence[str] = (),
        events: Sequence[Any] = (),
        limit: int | None = None,
    ) -> int:
        """The member's inputs for frames ``start, start+1, ...``: those the log does not have
        yet are appended (up to frame ``limit - 1``); returns how many. ``keys[i]`` goes with
        ``actions[i]``; ``events`` (the key events since the member's last message) go with the
        message's last frame, when that frame is new."""
        mine = self.actions[agent]
        have = len(mine)
        if start > have:
            return 0  # a gap: nothing is contiguous with what the log has
        skip = have - start
        new = list(actions[skip:])
        if limit is not None:
            new = new[: max(0, limit - have)]
        if not new:
            return 0
        mine.extend(new)
        self.who[agent].extend([who] * len(new))
        given = list(keys[skip : skip + len(new)])
        self.keys[agent].extend(given + [""] * (len(new) - len(given)))
        if events and skip + len(new) == len(actions):
            self.events[agent][len(mine) - 1] = list(events)
        return len(new)

    def fill(self, agent: str, length: int, value: Any, who: str) -> int:
        """Append ``value`` to ``agent``'s inputs until it has ``length`` frames; how many."""
        mine = self.actions[agent]
        missing = length - len(mine)
        if missing <= 0:
            return 0
        mine.extend([value] * missing)
        self.who[agent].extend([who] * missing)
        self.keys[agent].extend([""] * missing)
        return missing

    def after(self, frame: int, limit: int = MAX_RESEND) -> dict[str, dict[str, Any]]:
        """Every agent's inputs after ``frame`` (at most ``limit`` each): ``{agent: {from,
        actions}}``, agents with none left out."""
        start = frame + 1
        found: dict[str, dict[str, Any]] = {}
        for agent, mine in self.actions.items():
            if len(mine) > start:
                found[agent] = {"from": start, "actions": mine[start : start + limit]}
        return found

    def since(self, frame: int) -> dict[str, dict[str, Any]]:
        """Every agent's inputs from ``frame`` on: ``{agent: {from, actions}}`` (for a resume)."""
        return {a: {"from": frame, "actions": mine[frame:]} for a, mine in self.actions.items()}


@dataclass(frozen=True)
class RowContext:
    """What every row of a group's game carries besides the reports."""

    group_id: str
    netcode: str
    agents: tuple[str, ...]  # every agent of the scene, in order
    humans: tuple[str, ...]
    hash_every: int
    fps: int
    max_steps: int | None = None


def _number(value: Any) -> float:
    try:
        n = float(value)
    except (TypeError, ValueError):
        return 0.0
    return n if math.isfinite(n) else 0.0


@dataclass
class EpisodeRows:
    """The reports of one episode, and its canonical step rows made from them exactly once."""

    ctx: RowContext
    log: InputLog
    episode: int
    seed: int | None
    reports: dict[int, dict[str, Report]] = field(default_factory=dict)
    next_row: int = 0  # the next frame to write
    newest_report: int = -1
    returns: dict[str, float] = field(default_factory=dict)
    last: Report | None = None  # the report the last row was made from
    ended_by: str | None = None
    desyncs: int = 0
    hashes: dict[int, dict[str, str]] = field(default_factory=dict)
    #: The first frame each agent reports (a member resuming mid-episode starts later).
    expects: dict[str, int] = field(default_factory=dict)

    def hashed(self, frame: int) -> bool:
        """Whether reports of ``frame`` carry a state hash (every H-th frame)."""
        return (frame + 1) % self.ctx.hash_every == 0

    @property
    def over(self) -> bool:
        return self.ended_by is not None

    def add(self, agent: str, report: Report) -> dict[str, str] | None:
        """Keep ``agent``'s report (unless its row is written or its frame is not confirmed).
        Returns the frame's hashes by agent when they now differ (a desync), else None."""
        frame = report.frame
        if frame > self.log.confirmed or frame < 0:
            return None  # not final on any page yet
        mismatch = None
        if report.hash is not None:
            hashes = self.hashes.get(frame)
            if hashes is None and frame >= self.next_row:
                hashes = self.hashes[frame] = {}
            if hashes is not None and agent not in hashes:
                hashes[agent] = report.hash
                if len(set(hashes.values())) > 1:
                    mismatch = dict(hashes)
        if frame >= self.next_row and not self.over:
            self.reports.setdefault(frame, {}).setdefault(agent, report)
            self.newest_report = max(self.newest_report, frame)
        return mismatch

    def take(self, here: Collection[str], overdue: int = -1) -> list[tuple[int, dict[str, Any]]]:
        """The rows that can be written now, in order: ``[(frame, data)]``; each only once.
        Frames up to ``overdue`` (waited for long enough) go with the reports they have."""
        rows: list[tuple[int, dict[str, Any]]] = []
        lag = 2 * self.ctx.fps
        confirmed = self.log.confirmed
        while not self.over and self.next_row <= confirmed:
            frame = self.next_row
            have = self.reports.get(frame, {})
            late = self.newest_report - frame >= lag or (frame <= overdue and bool(have))
            waiting = [a for a in here if a not in have and self.expects.get(a, 0) <= frame]
            if (waiting or not have) and not late:
                break
            rows.append((frame, self._row(frame)))
        return rows

    @property
    def waiting(self) -> int | None:
        """The next frame to write when it is confirmed and reported by some member (so only
        reports of others hold it back), else None."""
        frame = self.next_row
        if self.over or frame > self.log.confirmed or not self.reports.get(frame):
            return None
        return frame

    def rest(self) -> list[tuple[int, dict[str, Any]]]:
        """The episode ends early: rows of the confirmed frames reported so far, in order."""
        rows: list[tuple[int, dict[str, Any]]] = []
        while not self.over and self.next_row <= self.log.confirmed:
            if not self.reports.get(self.next_row):
                break
            rows.append((self.next_row, self._row(self.next_row)))
        return rows

    def _row(self, frame: int) -> dict[str, Any]:
        """The step row of ``frame`` (and the episode's end when it is its last)."""
        have = self.reports.pop(frame, {})
        ctx, log = self.ctx, self.log
        ordered = [have[a] for a in ctx.humans if a in have]
        first = ordered[0] if ordered else None
        actions: dict[str, Any] = {}
        for agent in ctx.agents:
            given = log.actions[agent][frame] if agent in log.actions else None
            if given is None and first is not None:
                given = first.actions.get(agent)  # an AI's, or the stand-in's choice
            actions[agent] = given
        rewards = first.reward if first is not None else None
        data: dict[str, Any] = {f"action_{a}": json_safe(v) for a, v in actions.items()}
        if isinstance(rewards, Mapping) or rewards is None:
            for agent in ctx.agents:
                value = rewards.get(agent) if rewards is not None else None
                data[f"reward_{agent}"] = json_safe(value)
                self.returns[agent] = self.returns.get(agent, 0.0) + _number(value)
        else:
            data["reward"] = json_safe(rewards)
            self.returns[""] = self.returns.get("", 0.0) + _number(rewards)
        agreed = first is not None and all(
            r.same(first)
            and all(
                r.actions.get(a) == log.actions[a][frame]
                for a in ctx.humans
                if log.actions[a][frame] is not None
            )
            for r in ordered
        )
        data.update(
            terminated=bool(first.terminated) if first is not None else None,
            truncated=bool(first.truncated) if first is not None else None,
            info=json_safe(first.info) if first is not None else None,
            group_id=ctx.group_id,
        )
        for agent in ctx.humans:
            data[f"participant_{agent}"] = log.who[agent][frame]
            data[f"keys_{agent}"] = log.keys[agent][frame]
            data[f"key_events_{agent}"] = log.events[agent].pop(frame, [])
        hashes = self.hashes.get(frame)
        data.update(
            runtime="browser",
            netcode=ctx.netcode,
            state_hash=next((r.hash for r in ordered if r.hash is not None), None),
            agreed=agreed,
            reports=len(have),
        )
        if hashes is not None and len(set(hashes.values())) > 1:
            data["agreed"] = False
        self.next_row = frame + 1
        if first is not None:
            self.last = first
        for old in [f for f in self.hashes if f < frame - KEEP_HASHES_S * ctx.fps]:
            del self.hashes[old]
        at_limit = ctx.max_steps is not None and frame + 1 >= ctx.max_steps
        if first is not None and first.done or at_limit:
            self.ended_by = self._ended_by(first, at_limit)
        return data

    @staticmethod
    def _ended_by(last: Report | None, at_limit: bool) -> str:
        if last is not None and last.terminated:
            return "terminated"
        if at_limit or (last is not None and last.max_steps_reached):
            return "max_steps"
        return "truncated" if last is not None and last.truncated else "stopped"

    def summary(
        self, ended_by: str, participants: Mapping[str, str], duration_ms: float
    ) -> dict[str, Any]:
        """The episode row (``ended_by``: how it ended; ``participants``: who played each
        human agent at the end)."""
        last = self.last
        data: dict[str, Any] = {
            "seed": self.seed,
            "return": sum(self.returns.values()),
            "returns": {a: v for a, v in self.returns.items() if a},
            "length": self.next_row,
            "terminated": bool(last is not None and last.terminated),
            "truncated": bool(last is not None and last.truncated),
            "ended_by": ended_by,
            "group_id": self.ctx.group_id,
        }
        for agent in self.ctx.humans:
            data[f"participant_{agent}"] = participants.get(agent, "default")
        data.update(
            runtime="browser",
            netcode=self.ctx.netcode,
            desyncs=self.desyncs,
            fps=self.ctx.fps,
            duration_ms=round(duration_ms),
        )
        safe: dict[str, Any] = json_safe(data)
        return safe
