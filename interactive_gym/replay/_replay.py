"""The replay of a participant's recorded episodes, run by run, and the verdicts.

:class:`SceneReplay` replays the runs of one scene; a group's browser game (``_group.py``)
replays the server's canonical rows with a subclass of it (its hooks: the human inputs, the
stand-ins, the state hashes, the summary).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from interactive_gym.replay._records import (
    Run,
    action_column,
    group,
    human_problem,
    looks_multi_agent,
    numbering_problem,
    seed_of,
    summary_problem,
)
from interactive_gym.replay._runtime import Game
from interactive_gym.replay._values import MISSING, browser_value, first_difference, show
from interactive_gym.study.gym import GymScene

#: At most this many environment steps are replayed per call (re-checks included); episodes
#: beyond it are reported as not checked.
MAX_REPLAY_STEPS = 1_000_000
#: Default wall-clock budget of one call, in seconds (checked between steps).
DEFAULT_TIME_LIMIT_S = 300.0


@dataclass(frozen=True)
class EpisodeVerdict:
    """The replay of one run of one episode (one ``(episode, attempt)`` of a scene).

    ``verified``: True, replayed and everything recorded matches; False, the records are not
    what the game produces (``reason`` names the first mismatch); None, it could not be checked
    (``reason`` says why). ``steps``: the step records of the run. ``step``: the first step
    that differs (False), or the first step where two replays of the same seed and actions
    differ (``nondeterministic``); else None. ``cut_short``: the run has no summary (the page
    stopped mid-episode: a reload, a closed tab), so only its recorded steps were checked.
    """

    scene_id: str
    episode: int
    attempt: int
    verified: bool | None
    reason: str | None = None
    steps: int = 0
    step: int | None = None
    #: The environment gave different results on two replays of the same seed and actions.
    nondeterministic: bool = False
    cut_short: bool = False

    @property
    def status(self) -> str:
        """``"verified"``, ``"cut_short"`` (verified as far as it was recorded),
        ``"differs"``, ``"nondeterministic"`` or ``"not_replayed"``."""
        if self.verified is True:
            return "cut_short" if self.cut_short else "verified"
        if self.verified is False:
            return "differs"
        return "nondeterministic" if self.nondeterministic else "not_replayed"


@dataclass(frozen=True)
class ParticipantVerdict:
    """Every episode run of a participant, and the roll-up (see :func:`roll_up`).

    ``reason``: the first implausible episode's reason when ``verified`` is False, why nothing
    could be checked when it is None, and None when it is True.
    """

    verified: bool | None
    reason: str | None
    episodes: tuple[EpisodeVerdict, ...] = ()


def roll_up(verdicts: Iterable[EpisodeVerdict]) -> bool | None:
    """False if any episode is False; None if none could be checked; else True."""
    seen = [v.verified for v in verdicts]
    if any(v is False for v in seen):
        return False
    return True if any(v is True for v in seen) else None


@dataclass(frozen=True)
class _Outcome:
    """What :meth:`SceneReplay._check` found (see :class:`EpisodeVerdict`)."""

    verified: bool | None
    reason: str | None = None
    step: int | None = None
    nondeterministic: bool = False


class _OutOfBudget(Exception):
    """The step or time budget of the call is spent."""


@dataclass
class Budget:
    steps_left: int
    deadline: float | None
    limit_s: float | None
    limit_steps: int
    spent: str | None = None

    def spend(self) -> None:
        if self.spent is None:
            if self.steps_left <= 0:
                self.spent = f"the replay stopped at its limit of {self.limit_steps} steps"
            elif self.deadline is not None and time.monotonic() > self.deadline:
                self.spent = f"the replay stopped at its time limit of {self.limit_s:g} s"
        if self.spent is not None:
            raise _OutOfBudget(self.spent)
        self.steps_left -= 1


@dataclass
class _Played:
    """What replaying one run gave."""

    mismatch: tuple[int, str, dict[str, Any]] | None = None
    error: str | None = None
    limit: str | None = None
    #: The reply to the last recorded step, when every step was replayed.
    last: dict[str, Any] | None = None
    #: What the env gave at ``stop_at`` (for the determinism re-check).
    observed: dict[str, Any] | None = None
    #: What the env gave at every step up to ``stop_at``, when asked for.
    trace: list[dict[str, Any]] | None = None


def error_text(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__


class SceneReplay:
    """The runs of one scene, replayed in order on one game (a new one per page load)."""

    #: Whether the runs are a group's (the summary's return is every agent's).
    group = False

    def __init__(
        self,
        scene: GymScene,
        participant_seed: int | None,
        check_policies: bool,
        budget: Budget,
    ) -> None:
        self.scene = scene
        self.participant_seed = participant_seed
        self.check_policies = check_policies
        self.budget = budget
        self.build_error: str | None = None
        self.game: Game | None = None
        #: The runs (with their seeds) played on ``self.game`` since it was built.
        self.lineage: list[tuple[Run, int]] = []

    # building ---------------------------------------------------------------------------

    def _build(self) -> Game:
        if self.build_error is not None:
            raise RuntimeError(self.build_error)
        try:
            return self._make_game()
        except (Exception, SystemExit) as error:
            self.build_error = f"the game cannot be built here: {error_text(error)}"
            if isinstance(error, ImportError) and self.scene.packages:
                self.build_error += f" (the scene's packages {self.scene.packages} are installed"
                self.build_error += " in the browser, not here)"
            raise RuntimeError(self.build_error) from error

    def _make_game(self) -> Game:
        return Game(self.scene, self.check_policies)

    def new_page(self) -> None:
        """Forget the game: the next run is replayed on a newly built one."""
        self.game, self.lineage = None, []

    # one run ----------------------------------------------------------------------------

    def verdict(self, run: Run) -> EpisodeVerdict:
        try:
            found = self._check(run)
        except (Exception, SystemExit) as error:  # a bug here must not stop the other runs
            self.new_page()
            found = _Outcome(None, f"the replay failed: {error_text(error)}")
        return EpisodeVerdict(
            self.scene.scene_id,
            run.episode,
            run.attempt,
            found.verified,
            found.reason,
            len(run.steps),
            found.step,
            found.nondeterministic,
            cut_short=run.summary is None,
        )

    def _check(self, run: Run) -> _Outcome:
        scene = self.scene
        if run.episode >= scene.episodes:
            self.new_page()
            return _Outcome(
                False, f"episode {run.episode} recorded, but the scene has {scene.episodes}"
            )
        problem = numbering_problem(run)
        seed, seed_problem = seed_of(scene, run, self.participant_seed)
        steps = run.step_data() if problem is None else []
        problem = problem or seed_problem or self._inputs_problem(steps)
        problem = problem or self._hashes_problem(steps)
        if problem is not None:
            self.new_page()
            return _Outcome(False, problem, _step_of(problem))

        def unchecked(reason: str, multi: bool | None = None) -> _Outcome:
            """None, unless the summary already disagrees with the recorded steps."""
            multi = looks_multi_agent(steps) if multi is None else multi
            found = summary_problem(
                scene, run, steps, multi, None, replayed=False, group=self.group
            )
            return _Outcome(False, found) if found else _Outcome(None, reason)

        if seed is None:
            self.new_page()
            return unchecked(
                "the episode's seed is unknown (no episode summary, and no participant seed)"
            )
        if not steps:
            return unchecked("no steps recorded")
        if self.budget.spent is not None:
            return unchecked(f"not replayed: {self.budget.spent}")
        if self.game is None:
            try:
                self.game = self._build()
            except RuntimeError as error:
                self.new_page()
                return unchecked(str(error))
        game = self.game
        columns = [action_column(a, game.multi_agent) for a in scene.agents]
        for i, data in enumerate(steps):
            column = next((c for c in columns if c not in data), None)
            if column is not None:
                self.new_page()
                return _Outcome(False, f"step {i}: no {column} recorded", i)
        priors = list(self.lineage)
        played = self._play(game, run, seed, steps)
        if played.error is not None or played.limit is not None:
            self.new_page()  # the env is not where the page's was
        else:
            self.lineage.append((run, seed))
        if played.mismatch is not None:
            step, reason, observed = played.mismatch
            split = self._replays_split(priors, run, seed, steps, step, observed)
            if split is not None:
                at, how = split
                return _Outcome(
                    None,
                    f"the environment is not deterministic: {how} (against the records: {reason})",
                    at,
                    nondeterministic=True,
                )
            return _Outcome(False, self._explain(steps[step], reason), step)
        if played.error is not None or played.limit is not None:
            return unchecked(str(played.error or played.limit), game.multi_agent)
        found = summary_problem(
            scene, run, steps, game.multi_agent, played.last, replayed=True, group=self.group
        )
        return _Outcome(False, found) if found else _Outcome(True)

    # the hooks of a group's replay ---------------------------------------------------------

    def _inputs_problem(self, steps: list[Mapping[str, Any]]) -> str | None:
        """What is wrong with the recorded human inputs, before replaying."""
        return human_problem(self.scene, steps)

    def _standing_in(self, i: int, data: Mapping[str, Any]) -> frozenset[str]:
        """The human agents a stand-in played at step ``i``."""
        return frozenset()

    def _stop_before(self, data: Mapping[str, Any]) -> str | None:
        """Why this step and the rest cannot be replayed (None: they can)."""
        return None

    def _explain(self, data: Mapping[str, Any], reason: str) -> str:
        """The reason of a mismatch at the step ``data``, with what the records tell of it."""
        return reason

    def _hashes_problem(self, steps: list[Mapping[str, Any]]) -> str | None:
        """A step that must carry the env's state hash (``record_state_hash_every``: every
        K-th step and an episode's last) and does not."""
        every = self.scene.record_state_hash_every
        if every is None:
            return None
        for i, data in enumerate(steps):
            last = bool(data.get("terminated")) or bool(data.get("truncated"))
            if ((i + 1) % every == 0 or last) and data.get("state_hash") is None:
                return (
                    f"step {i}: no state_hash recorded, but the scene records the state's hash "
                    f"every {every} steps and at the end of an episode"
                )
        return None

    def _after_tick(self, game: Game, data: Mapping[str, Any]) -> dict[str, Any]:
        """What else to compare right after a step: the env's state hash, on the steps that
        recorded one (``record_state_hash_every``)."""
        hashed = data.get("state_hash") is not None
        return {"state_hash": game.env_state_hash()} if hashed else {}

    def _records_observation(self, data: Mapping[str, Any]) -> bool:
        return self.scene.record_observations

    def _who(self, agent: str) -> str:
        """Who chose an AI agent's action, for a reason."""
        return "the random draw" if self.scene.agents[agent] == "random" else "the policy"

    # stepping ---------------------------------------------------------------------------

    def _play(
        self,
        game: Game,
        run: Run,
        seed: int,
        steps: list[Mapping[str, Any]],
        stop_at: int | None = None,
        trace: bool = False,
    ) -> _Played:
        """Reset with ``seed`` and step with the recorded actions; compare every step.

        After the first mismatch the remaining recorded steps are still played (without
        comparing), so the env ends the run where the page's did. With ``stop_at``, stop
        after that step and keep what the env gave there (and, with ``trace``, at every step
        up to it).
        """
        played = _Played(trace=[] if trace else None)
        n = len(steps)
        try:
            game.start(seed)
        except (Exception, SystemExit) as error:
            played.error = f"reset(seed={seed}): the environment raised {error_text(error)}"
            return played
        agents = list(self.scene.agents)
        reply: dict[str, Any] | None = None
        for i, data in enumerate(steps):
            try:
                self.budget.spend()
            except _OutOfBudget as spent:
                played.limit = f"not checked from step {i} on: {spent}"
                return played
            stop = self._stop_before(data)
            if stop is not None:
                played.limit = f"not checked from step {i} on: {stop}"
                return played
            actions = {a: data.get(action_column(a, game.multi_agent)) for a in agents}
            try:
                reply = game.tick(actions, self._standing_in(i, data))
                extra = self._after_tick(game, data)
            except (Exception, SystemExit) as error:
                played.error = f"step {i}: the environment raised {error_text(error)}"
                return played
            observed = {**self._observed(game, reply, data), **extra}
            if played.trace is not None:
                # the observation too, recorded or not: where the env first strays
                seen = {"observation": browser_value(game.to_plain(reply.get("observation")))}
                played.trace.append({**seen, **observed})
            if stop_at == i:
                played.observed = observed
                return played
            if played.mismatch is None:
                reason = self._compare(i, data, observed, game.multi_agent)
                if reason is None and reply["done"] and i < n - 1:
                    how = _how_it_ends(reply)
                    more = n - 1 - i
                    reason = f"step {i}: the episode ends here ({how}), but {more} more "
                    reason += "step is recorded" if more == 1 else "steps are recorded"
                if reason is not None:
                    played.mismatch = (i, reason, observed)
            if reply["done"]:
                break
        if played.mismatch is None:
            played.last = reply
        return played

    def _observed(
        self, game: Game, reply: dict[str, Any], data: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The parts of a tick reply the page records, as it records them."""
        to_plain = game.to_plain
        reward = browser_value(to_plain(reply["reward"]))
        if game.multi_agent and isinstance(reward, dict):
            rewards = {f"reward_{k}": v for k, v in reward.items()}
        else:
            rewards = {"reward": reward}
        observed = {
            "expected": {k: browser_value(to_plain(v)) for k, v in game.expected.items()},
            "rewards": rewards,
            "terminated": bool(reply["terminated"]),
            "truncated": bool(reply["truncated"]),
            "done": bool(reply["done"]),
        }
        if self._records_observation(data):
            observed["observation"] = browser_value(to_plain(reply.get("observation")))
        return observed

    def _compare(
        self, i: int, data: Mapping[str, Any], observed: dict[str, Any], multi: bool
    ) -> str | None:
        """The first difference between a step record and the replayed step, as a reason."""
        for agent, action in observed["expected"].items():
            column = action_column(agent, multi)
            recorded = data.get(column, MISSING)
            if first_difference(recorded, action) is not None:
                return (
                    f"step {i}: {column} {show(recorded)} recorded, but {self._who(agent)} of "
                    f"agent {agent} gives {show(action)}"
                )
        columns = dict(observed["rewards"])
        columns.update(terminated=observed["terminated"], truncated=observed["truncated"])
        if "observation" in observed:
            columns["observation"] = observed["observation"]
        for column, value in columns.items():
            found = first_difference(data.get(column, MISSING), value)
            if found is not None:
                path, got, wanted = found
                return f"step {i}: {column}{path} {show(got)} recorded, env gives {show(wanted)}"
        if "state_hash" in observed and data.get("state_hash") != observed["state_hash"]:
            return (
                f"step {i}: state_hash {show(data.get('state_hash'))} recorded, but the state "
                f"after this step hashes to {observed['state_hash']!r}"
            )
        return None

    def _replays_split(
        self,
        priors: list[tuple[Run, int]],
        run: Run,
        seed: int,
        steps: list[Mapping[str, Any]],
        step: int,
        observed: dict[str, Any],
    ) -> tuple[int, str] | None:
        """Whether the environment, not the records, explains a mismatch at ``step``.

        Two fresh games replay what this one replayed (the runs before on the same page, then
        this run up to ``step``). If they differ from each other, the environment is not
        deterministic given seed and actions (global random numbers, time...): returns the
        first step where they differ and how. If they agree with each other but not with the
        first replay at ``step``, the first replay was the odd one: returns ``step``. None when
        both give what the first gave (the records differ from the game) or when it cannot be
        told (a replay failed or ran out of budget: the mismatch stands).
        """
        traces: list[list[dict[str, Any]]] = []
        try:
            for _ in range(2):
                game = self._build()
                for prior, prior_seed in priors:
                    self._play(game, prior, prior_seed, prior.step_data())
                again = self._play(game, run, seed, steps, stop_at=step, trace=True)
                if again.limit is not None or again.error is not None or again.trace is None:
                    return None
                traces.append(again.trace)
        except (Exception, SystemExit):
            return None
        first, second = traces
        for i, (a, b) in enumerate(zip(first, second, strict=False)):
            found = first_difference(a, b)
            if found is not None:
                path, one, other = found
                return i, (
                    f"two replays of the same seed and actions differ at step {i} "
                    f"({_observed_name(path)}: {show(one)} and {show(other)})"
                )
        if len(first) != len(second):
            at = min(len(first), len(second))
            return at, f"two replays of the same seed and actions end at different steps ({at})"
        last = {k: v for k, v in first[-1].items() if k in observed} if first else None
        if last is not None and first_difference(last, observed) is not None:
            return step, f"a second and a third replay differ from the first at step {step}"
        return None


def _step_of(problem: str) -> int | None:
    """The step a reason starting ``"step N: "`` names."""
    head, _, _ = problem.partition(":")
    number = head.removeprefix("step ")
    return int(number) if head.startswith("step ") and number.isdigit() else None


def _observed_name(path: str) -> str:
    """What a difference's path in the replayed values names, as the step columns name it:
    ``['rewards']['reward_0']`` → ``reward_0``, ``['observation'][2]`` → ``observation[2]``,
    ``['expected']['ai']`` → ``the action of agent 'ai'``."""
    keys = re.findall(r"\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]", path)
    names = [k or i for k, i in keys]
    if not names:
        return "the value"
    if names[0] == "expected" and len(names) > 1:
        return f"the action of agent {names[1]!r}"
    if names[0] in ("rewards", "expected") and len(names) > 1:
        names = names[1:]
    head, rest = names[0], names[1:]
    return head + "".join(f"[{n}]" if n.isdigit() else f"[{n!r}]" for n in rest)


def _how_it_ends(reply: Mapping[str, Any]) -> str:
    if reply.get("terminated"):
        return "terminated"
    return "max_steps" if reply.get("maxStepsReached") else "truncated"


def replay_participant(
    scenes: GymScene | Iterable[GymScene],
    records: Iterable[Mapping[str, Any]],
    *,
    participant_seed: int | None = None,
    check_policies: bool = False,
    time_limit_s: float | None = DEFAULT_TIME_LIMIT_S,
    step_limit: int = MAX_REPLAY_STEPS,
) -> ParticipantVerdict:
    """Replay every recorded episode run of one participant in the given game scenes.

    Args:
        scenes: the study's game scenes (loaded, e.g. through ``load_study``); records of
            other scenes are left out.
        records: the participant's records as the store gives them (dicts with ``kind``,
            ``scene_id``, ``episode``, ``attempt``, ``step``, ``data``); kinds other than
            ``step`` and ``episode`` are left out.
        participant_seed: the participant's seed: each episode's seed is then checked against
            the one the scene gives it, and an interrupted run without a summary can be
            replayed. Without it the summary's seed is trusted.
        check_policies: also recompute the actions of Python-policy agents and compare them
            with the recorded ones (only meaningful for deterministic policies).
        time_limit_s: wall-clock budget of the whole call (None: none).
        step_limit: environment steps the call may replay.

    Never raises for anything in the records or the environment; synchronous.
    """
    try:
        return _replay_participant(
            scenes, records, participant_seed, check_policies, time_limit_s, step_limit
        )
    except (Exception, SystemExit) as error:  # a last resort: the caller must get a verdict
        return ParticipantVerdict(None, f"the replay failed: {error_text(error)}")


def _replay_participant(
    scenes: GymScene | Iterable[GymScene],
    records: Iterable[Mapping[str, Any]],
    participant_seed: int | None,
    check_policies: bool,
    time_limit_s: float | None,
    step_limit: int,
) -> ParticipantVerdict:
    def replay(scene: GymScene, budget: Budget) -> SceneReplay:
        return SceneReplay(scene, participant_seed, check_policies, budget)

    return replay_scenes(scenes, records, replay, time_limit_s, step_limit)


def replay_scenes(
    scenes: GymScene | Iterable[GymScene],
    records: Iterable[Mapping[str, Any]],
    replay_of: Callable[[GymScene, Budget], SceneReplay],
    time_limit_s: float | None,
    step_limit: int,
) -> ParticipantVerdict:
    """Every run of every scene, each scene's with its own ``replay_of(scene, budget)``; the
    budget is the whole call's."""
    budget = Budget(
        steps_left=step_limit,
        deadline=None if time_limit_s is None else time.monotonic() + time_limit_s,
        limit_s=time_limit_s,
        limit_steps=step_limit,
    )
    scene_list = [scenes] if isinstance(scenes, GymScene) else list(scenes)
    records = list(records)
    verdicts: list[EpisodeVerdict] = []
    for scene in scene_list:
        runs = group(records, scene.scene_id)
        replay = replay_of(scene, budget)
        for attempt in sorted({a for _, a in runs}):
            replay.new_page()  # each attempt had its own page, worker and env
            for key in sorted(k for k in runs if k[1] == attempt):
                verdicts.append(replay.verdict(runs[key]))
    verified = roll_up(verdicts)
    reason: str | None = None
    if verified is not True:
        wanted = False if verified is False else None
        first = next((v for v in verdicts if v.verified is wanted), None)
        if first is None:
            reason = "no game episodes recorded"
        else:
            where = f"{first.scene_id} episode {first.episode} attempt {first.attempt}"
            reason = f"{where}: {first.reason}"
            if verified is None:
                reason = f"nothing could be checked: {reason}"
    return ParticipantVerdict(verified, reason, tuple(verdicts))
