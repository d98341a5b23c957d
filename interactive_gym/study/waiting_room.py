"""WaitingRoom: where participants wait until enough of them are there to play a group game.

A group scene is a :class:`~interactive_gym.study.gym.GymScene` with two or more ``"human"``
agents. A WaitingRoom stands before group scenes; the groups it forms play every group scene
after it, up to the next WaitingRoom (or the end of the study). The Experiment fills in which
scenes those are (:attr:`WaitingRoom.group_scenes`), their human agents
(:attr:`WaitingRoom.humans`) and, unless given, the group size (see ``groups_check.py``).

The server half (matching, presence, timeouts) is ``server/waiting_rooms.py`` with the group
directory ``server/groups.py``; the browser half is ``static/js/study/scenes/waiting_room.js``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interactive_gym.study.end_scene import EndScene
from interactive_gym.study.errors import ResponseError, StudyError
from interactive_gym.study.gym_agents import Agent, PythonPolicy, agents_to_client, load_agents
from interactive_gym.study.options import check_bool, check_int, check_number, check_str, describe
from interactive_gym.study.scene import SCENE_MODULES, ParticipantContext, Scene

#: A group's id: "g" and 15 lowercase hex digits (random; see :func:`new_group_id`).
GROUP_ID_PATTERN = re.compile(r"^g[0-9a-f]{15}$")
ROLES = ("arrival", "random")
#: How a participant's wait ends, as the page reports it (the server checks its own record).
OUTCOMES = ("matched", "stand_in", "timeout", "not_present")
DEFAULT_MESSAGE = (
    "<p>Please wait while other participants join. The game starts as soon as your group is "
    "complete.</p><p>Keep this tab open: you will hear a short sound when it starts.</p>"
)


def _is_group_id(value: object) -> bool:
    return isinstance(value, str) and GROUP_ID_PATTERN.match(value) is not None


def new_group_id() -> str:
    """A fresh random group id, e.g. ``"g3f9c0a1b2d4e5f6"``."""
    return "g" + secrets.token_hex(8)[1:]


class StandIn:
    """AI policies playing in place of missing humans.

    ``StandIn({1: PythonPolicy("policies/partner.py")})`` or ``StandIn({1: "random"})``: keys
    are the agent ids of the human agents they replace, values ``"random"`` or a
    :class:`~interactive_gym.study.gym_agents.PythonPolicy` (they run on the server).

    Used as ``WaitingRoom(on_timeout=StandIn(...))`` (a participant who waited in vain plays
    with AI partners) and ``GymScene(on_member_leave=StandIn(...))`` (an AI takes over the agent
    of a member who left).
    """

    def __init__(self, agents: Mapping[str | int, Any]) -> None:
        where = "StandIn"
        if not isinstance(agents, Mapping) or not agents:
            raise StudyError(
                where,
                f"expected a non-empty dict of agent id to policy, got {describe(agents)}",
                'e.g. StandIn({1: "random"}) or StandIn({1: PythonPolicy("partner.py")})',
            )
        self.agents: dict[str, Agent] = {}
        self.agent_ids: dict[str, str | int] = {}
        for agent_id, agent in agents.items():
            name = f"agents[{agent_id!r}]"
            if not isinstance(agent_id, str | int) or isinstance(agent_id, bool):
                raise StudyError(where, f"{name}: agent ids are strings or whole numbers")
            if agent != "random" and not isinstance(agent, PythonPolicy):
                raise StudyError(
                    where,
                    f"{name} is {describe(agent)}; a stand-in is an AI policy",
                    'use "random" or PythonPolicy(file) (they run on the server)',
                )
            if str(agent_id) in self.agents:
                raise StudyError(where, f"{name}: agent id {str(agent_id)!r} is listed twice")
            self.agents[str(agent_id)] = agent
            self.agent_ids[str(agent_id)] = agent_id

    def load(self, base_dir: Path, where: str) -> None:
        """Read the policies' files; ``where`` names the option: ``WaitingRoom('w').on_timeout``."""
        load_agents(where, self.agents, base_dir, self.agent_ids)

    def to_client(self, seed: int, scene_id: str) -> dict[str, dict[str, Any]]:
        """Each stand-in's spec, as ``agents_to_client`` describes AI agents."""
        return agents_to_client(self.agents, seed, scene_id)

    def __repr__(self) -> str:
        return f"StandIn({self.agents!r})"


@dataclass(frozen=True)
class WaitingParticipant:
    """A participant in a waiting room, as a ``matcher`` sees them.

    Attributes:
        participant_id: their id.
        waited_s: seconds since they arrived in the room.
        condition: their between-subject condition (None: none yet, or the study has none).
        url_params: the URL parameters they arrived with.
        present: False while they are disconnected or did not answer "Are you still there?";
            only present participants can be matched.
    """

    participant_id: str
    waited_s: float
    condition: str | None
    url_params: Mapping[str, str] = field(default_factory=dict)
    present: bool = True


Matcher = Callable[[list[WaitingParticipant]], Sequence[str] | None]


class WaitingRoom(Scene):
    """Participants wait here until a group forms; the group plays the group scenes after it.

    Args:
        scene_id: unique id of the scene.
        group_size: how many participants form a group (2 or more); default: the number of
            human agents of the group scenes after the room.
        timeout_s: how long a participant waits at most (5 to 3600 seconds).
        matcher: ``matcher(waiting: list[WaitingParticipant]) -> ids | None``, called with
            everyone waiting; it returns the ids of one group (``group_size`` present
            participants) or None. Default: first come, first grouped.
        roles: which member plays which human agent: ``"arrival"`` (the first to arrive plays
            the first human agent listed) or ``"random"``.
        on_timeout: what happens after ``timeout_s``: ``"skip"`` (the group scenes are skipped),
            ``StandIn({...})`` (play alone with AI partners) or ``EndScene(...)`` (the study
            ends there, with that scene's own completion code).
        message: HTML shown while waiting.
        show_count: show how many more participants are needed.
        presence_after_s: after this long without activity, ask "Are you still there?"
            (5 to 3600 seconds).
        presence_answer_s: how long the participant has to answer (5 to 600 seconds) before
            they count as away and are not matched until they come back.
        countdown_s: seconds of countdown once the group is complete (0 to 10).
        title: heading shown above the message.
    """

    scene_type = "waiting_room"
    client_module = SCENE_MODULES + "waiting_room.js"
    record_kinds = frozenset({"event"})

    def __init__(
        self,
        scene_id: str,
        *,
        group_size: int | None = None,
        timeout_s: float = 300,
        matcher: Matcher | None = None,
        roles: str = "arrival",
        on_timeout: str | StandIn | EndScene = "skip",
        message: str = DEFAULT_MESSAGE,
        show_count: bool = True,
        presence_after_s: float = 60,
        presence_answer_s: float = 30,
        countdown_s: int = 3,
        title: str | None = None,
        **unknown: object,
    ) -> None:
        super().__init__(scene_id, unknown)
        w = self.where
        #: As given; :attr:`group_size` is filled in by the Experiment when None.
        self.given_group_size = check_int(w, "group_size", group_size, minimum=2, optional=True)
        self.group_size = self.given_group_size
        self.timeout_s = self._seconds("timeout_s", timeout_s, 5, 3600)
        if matcher is not None and not callable(matcher):
            raise StudyError(
                w,
                f"matcher must be a function or None, got {describe(matcher)}",
                "def matcher(waiting): return [p.participant_id for p in waiting[:2]]",
            )
        self.matcher = matcher
        if roles not in ROLES:
            raise StudyError(w, f"roles must be 'arrival' or 'random', got {describe(roles)}")
        self.roles = roles
        if on_timeout != "skip" and not isinstance(on_timeout, StandIn | EndScene):
            raise StudyError(
                w,
                f"on_timeout must be 'skip', a StandIn or an EndScene, got {describe(on_timeout)}",
                'e.g. on_timeout=EndScene("no_partner", completion_code="...")',
            )
        self.on_timeout = on_timeout
        self.message = check_str(w, "message", message)
        self.show_count = check_bool(w, "show_count", show_count)
        self.presence_after_s = self._seconds("presence_after_s", presence_after_s, 5, 3600)
        self.presence_answer_s = self._seconds("presence_answer_s", presence_answer_s, 5, 600)
        self.countdown_s: int = check_int(w, "countdown_s", countdown_s, minimum=0, maximum=10)
        self.title = check_str(w, "title", title, optional=True)
        #: Filled in by the Experiment: the group scenes this room's groups play, in order.
        self.group_scenes: list[str] = []
        #: Filled in by the Experiment: the human agent ids of those scenes, in role order.
        self.humans: list[str] = []

    def _seconds(self, name: str, value: object, low: float, high: float) -> float:
        number = float(check_number(self.where, name, value))
        if not low <= number <= high:
            raise StudyError(self.where, f"{name} must be between {low} and {high}, got {value}")
        return number

    @property
    def stand_in(self) -> StandIn | None:
        """The ``on_timeout`` StandIn, if any."""
        return self.on_timeout if isinstance(self.on_timeout, StandIn) else None

    @property
    def end_scene(self) -> EndScene | None:
        """The ``on_timeout`` EndScene, if any."""
        return self.on_timeout if isinstance(self.on_timeout, EndScene) else None

    def load_files(self, base_dir: Path) -> None:
        if self.stand_in is not None:
            self.stand_in.load(base_dir, f"{self.where}.on_timeout")

    def client_options(self, ctx: ParticipantContext) -> dict[str, Any]:
        return {
            "title": self.title,
            "message": self.message,
            "show_count": self.show_count,
            "group_size": self.group_size,
            "timeout_s": self.timeout_s,
            "presence_after_s": self.presence_after_s,
            "presence_answer_s": self.presence_answer_s,
            "countdown_s": self.countdown_s,
        }

    def validate_response(self, response: object, ctx: ParticipantContext) -> dict[str, Any]:
        """``{"outcome": "matched" | "stand_in" | "timeout" | "not_present", "group_id": ...}``.

        A group id comes with "matched" and "stand_in" (a group of one with AI partners), may
        come with "timeout" (the stand-in case, as the room told the page), never with
        "not_present".
        The server then checks the outcome against its own record of the wait.
        """
        if not isinstance(response, dict) or response.get("outcome") not in OUTCOMES:
            raise ResponseError(
                "outcome", f"a waiting room ends with outcome {', '.join(OUTCOMES)}"
            )
        if set(response) - {"outcome", "group_id"}:
            raise ResponseError("", "a waiting room sends only outcome and group_id")
        outcome = response["outcome"]
        group_id = response.get("group_id")
        if outcome == "stand_in" and self.stand_in is None:
            raise ResponseError("outcome", "this waiting room has no stand-in (on_timeout)")
        if outcome in ("matched", "stand_in"):
            if not _is_group_id(group_id):
                raise ResponseError("group_id", f"outcome {outcome!r} needs the group's id")
        elif group_id is not None and (outcome == "not_present" or not _is_group_id(group_id)):
            raise ResponseError("group_id", f"outcome {outcome!r} has no group")
        return {"outcome": outcome, "group_id": group_id}
