"""Network emulation on the server's side of each member's link: latency, jitter, loss, reorder.

For trying a study (and benchmarking the two runtimes) as participants far away would play it,
without touching the machine's network: ``python -m interactive_gym.run study.py --netem
"latency=80ms,jitter=30ms,loss=10%"`` (or the ``IG_NETEM`` environment variable).

The spec is ``name=value`` parts separated by commas:

- ``latency=80ms`` (or ``0.08s``): one way; a member's round trip grows by twice this;
- ``jitter=30ms``: each message's delay is drawn uniformly from latency ± jitter (at least 0),
  so messages overtake each other;
- ``loss=10%``: the share of ``net:input`` / ``net:inputs`` messages dropped (messages answered
  with an acknowledgement, and every other event, are delayed, never dropped);
- ``reorder=5%``: the share of messages sent at once instead of after the delay (they overtake
  the delayed ones; needs a latency);
- ``seed=7``: draw delays and losses from generators seeded with it (one per member), for runs
  that can be repeated.

Per-member overrides follow ``;``: ``"latency=40ms;p2:latency=150ms,loss=20%"`` gives
participant ``p2`` its own link (the seed is the default part's). :meth:`Netem.set_member`
changes a member's link while the server runs (tests).

Where it applies: ``net_games.py`` delays every ``net:*`` message a member sends before
handling it and every message to them before sending it (and drops the lossy ones);
``app.py`` gives the server runtime's ``game:input`` (handled in order, never dropped) and its
``game:*`` messages to the page (sent in order) the same delays, so both runtimes can be
compared side by side.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("interactive_gym.netem")

#: The events a lossy link may drop: the input stream, which repeats what was not acknowledged.
LOSSY = frozenset({"net:input", "net:inputs"})
MAX_DELAY_S = 10.0

_DURATION = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)(ms|s)$")
_SHARE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)%$")
_MEMBER = re.compile(r"^[A-Za-z0-9_.@:-]{1,128}$")


class NetemError(ValueError):
    """A netem spec that cannot be read; the message names the part."""


@dataclass(frozen=True)
class Link:
    """One member's link: one-way latency and jitter in seconds, loss and reorder as shares."""

    latency_s: float = 0.0
    jitter_s: float = 0.0
    loss: float = 0.0
    reorder: float = 0.0

    @property
    def active(self) -> bool:
        return bool(self.latency_s or self.jitter_s or self.loss or self.reorder)


@dataclass(frozen=True)
class NetemSpec:
    """A parsed spec: everyone's link, the members' own ones, and the seed."""

    default: Link = Link()
    members: dict[str, Link] = field(default_factory=dict)
    seed: int | None = None


def _duration(part: str, value: str) -> float:
    match = _DURATION.match(value)
    if match is None:
        raise NetemError(f"{part!r}: expected a duration such as 80ms or 0.08s")
    seconds = float(match[1]) / (1000 if match[2] == "ms" else 1)
    if seconds > MAX_DELAY_S:
        raise NetemError(f"{part!r}: at most {MAX_DELAY_S:g}s")
    return seconds


def _share(part: str, value: str) -> float:
    match = _SHARE.match(value)
    if match is None:
        raise NetemError(f"{part!r}: expected a percentage such as 10%")
    share = float(match[1]) / 100
    if share > 1:
        raise NetemError(f"{part!r}: at most 100%")
    return share


def _link(text: str, *, allow_seed: bool) -> tuple[Link, int | None]:
    values: dict[str, float] = {}
    seed: int | None = None
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not value:
            raise NetemError(f"{part!r}: expected name=value, e.g. latency=80ms")
        if name in values or (name == "seed" and seed is not None):
            raise NetemError(f"{part!r}: {name} is given twice")
        if name in ("latency", "jitter"):
            values[name] = _duration(part, value)
        elif name in ("loss", "reorder"):
            values[name] = _share(part, value)
        elif name == "seed" and allow_seed:
            if not value.isdigit():
                raise NetemError(f"{part!r}: expected a whole number")
            seed = int(value)
        elif name == "seed":
            raise NetemError(f"{part!r}: the seed goes in the first part, for every member")
        else:
            raise NetemError(
                f"{part!r}: unknown setting {name!r} (latency, jitter, loss, reorder, seed)"
            )
    link = Link(
        values.get("latency", 0.0),
        values.get("jitter", 0.0),
        values.get("loss", 0.0),
        values.get("reorder", 0.0),
    )
    if link.reorder and not link.latency_s:
        raise NetemError(f"{text.strip()!r}: reorder needs a latency to overtake")
    return link, seed


def parse_netem(text: str) -> NetemSpec:
    """Read a spec such as ``"latency=80ms,jitter=30ms,loss=10%;p2:loss=50%"``.

    Raises:
        NetemError: a part cannot be read (the message names it).
    """
    default, *overrides = text.split(";")
    link, seed = _link(default, allow_seed=True)
    members: dict[str, Link] = {}
    for override in overrides:
        if not override.strip():
            continue
        member, sep, rest = override.partition(":")
        member = member.strip()
        if not sep or not _MEMBER.match(member):
            raise NetemError(
                f"{override.strip()!r}: expected participant_id:settings, e.g. p2:latency=150ms"
            )
        if member in members:
            raise NetemError(f"{override.strip()!r}: {member} is given twice")
        members[member], _ = _link(rest, allow_seed=False)
    return NetemSpec(link, members, seed)


Work = Callable[[], Awaitable[Any]]


class Netem:
    """Delays, drops and reorders the messages of each member's link as its spec says."""

    def __init__(self, spec: NetemSpec | str) -> None:
        self.spec = parse_netem(spec) if isinstance(spec, str) else spec
        self.members = dict(self.spec.members)
        self._rngs: dict[str, random.Random] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tails: dict[Any, asyncio.Task[Any]] = {}
        self._due: dict[Any, float] = {}

    # the links ----------------------------------------------------------------------------

    def set_member(self, participant_id: str, link: Link | str | None) -> None:
        """Give a member their own link (a :class:`Link` or a spec's settings), or back the
        default one (None)."""
        if link is None:
            self.members.pop(participant_id, None)
            return
        self.members[participant_id] = (
            link if isinstance(link, Link) else _link(link, allow_seed=False)[0]
        )

    def link(self, participant_id: str | None) -> Link:
        if participant_id is None:
            return self.spec.default
        return self.members.get(participant_id, self.spec.default)

    def _rng(self, participant_id: str | None) -> random.Random:
        key = participant_id or ""
        rng = self._rngs.get(key)
        if rng is None:
            seed = self.spec.seed
            rng = random.Random(f"{seed}:{key}") if seed is not None else random.Random()
            self._rngs[key] = rng
        return rng

    def delay(self, participant_id: str | None, *, ordered: bool = False) -> float:
        """One message's delay in seconds (``ordered``: no reordering draw)."""
        link = self.link(participant_id)
        if not link.active:
            return 0.0
        rng = self._rng(participant_id)
        if not ordered and link.reorder and rng.random() < link.reorder:
            return 0.0
        if not link.jitter_s:
            return link.latency_s
        return max(0.0, link.latency_s + rng.uniform(-link.jitter_s, link.jitter_s))

    def dropped(self, participant_id: str | None, event: str) -> bool:
        """Whether this message is lost (only the lossy events ever are)."""
        link = self.link(participant_id)
        return bool(link.loss) and event in LOSSY and self._rng(participant_id).random() < link.loss

    # the messages -------------------------------------------------------------------------

    async def arrive(self, participant_id: str | None, event: str) -> bool:
        """A member's message came in: False when it is lost, else True once it is due."""
        if not self.link(participant_id).active:
            return True
        if self.dropped(participant_id, event):
            return False
        wait = self.delay(participant_id)
        if wait > 0:
            await asyncio.sleep(wait)
        return True

    async def depart(self, participant_id: str | None) -> None:
        """An acknowledgement goes back: wait its delay (never lost)."""
        wait = self.delay(participant_id, ordered=True)
        if wait > 0:
            await asyncio.sleep(wait)

    def send(self, participant_id: str | None, event: str, work: Work) -> None:
        """A message to a member: ``work`` sends it, after its delay (or never, when lost)."""
        if self.dropped(participant_id, event):
            return
        self._start(self._later(self.delay(participant_id), work))

    def ordered(self, key: Any, participant_id: str | None, work: Work) -> None:
        """``work`` after the member's delay, but never before the earlier work of ``key``
        (a socket and a direction): a stream that must stay in order."""
        loop = asyncio.get_running_loop()
        due = max(loop.time() + self.delay(participant_id, ordered=True), self._due.get(key, 0.0))
        self._due[key] = due
        previous = self._tails.get(key)
        task = self._start(self._in_turn(previous, due, work))
        self._tails[key] = task

        def forget(done: asyncio.Task[Any]) -> None:
            if self._tails.get(key) is done:
                del self._tails[key]
                self._due.pop(key, None)

        task.add_done_callback(forget)

    async def _later(self, wait: float, work: Work) -> None:
        if wait > 0:
            await asyncio.sleep(wait)
        await work()

    async def _in_turn(self, previous: asyncio.Task[Any] | None, due: float, work: Work) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        wait = due - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)
        await work()

    def _start(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("netem: a delayed message failed", exc_info=task.exception())

    async def close(self) -> None:
        """Drop what is still on its way (at shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # the server runtime -------------------------------------------------------------------

    def ordered_handler(
        self,
        handler: Callable[..., Awaitable[Any]],
        participant_of: Callable[[str], str | None],
    ) -> Callable[..., Awaitable[Any]]:
        """``handler`` (a socket event's, without acknowledgement) run after the sender's
        delay, in the order the messages came (``game:input``)."""

        async def delayed(sid: str, *args: Any) -> None:
            participant_id = participant_of(sid)
            if not self.link(participant_id).active:
                await handler(sid, *args)
                return

            async def work() -> None:
                await handler(sid, *args)

            self.ordered(("in", sid), participant_id, work)

        return delayed

    def ordered_sender(
        self, participant_of: Callable[[str], str | None], send: Callable[..., Awaitable[None]]
    ) -> Callable[..., Awaitable[None]]:
        """A ``fanout.send_to`` that sends to each socket after its member's delay, in order
        (the server runtime's frames)."""

        async def send_to(sio: Any, event: str, data: Any, sids: Any) -> None:
            for sid in sids:
                participant_id = participant_of(sid)
                if not self.link(participant_id).active and ("out", sid) not in self._tails:
                    await send(sio, event, data, (sid,))
                    continue

                async def work(sid: str = sid) -> None:
                    await send(sio, event, data, (sid,))

                self.ordered(("out", sid), participant_id, work)

        return send_to
