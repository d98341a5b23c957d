"""``python -m interactive_gym.verify``: replay a study's recorded episodes, step by step.

    python -m interactive_gym.verify --db sqlite:///data/interactive_gym.db [--study study.py]
        [--participant ID ...] [--json PATH] [--check-policies] [--time-limit SECONDS]

For a reviewer, or a researcher before analysing: every recorded episode run of the study's
participants (and of their groups) is replayed in this interpreter with
:mod:`interactive_gym.replay`: the scene's environment, built from the study file as the game
built it (``env_file``/``env_module`` as the browser's worker, ``env_id``/``env_factory`` as the
server's env process), reset with the episode's seed and stepped with the recorded actions of
every agent. Rewards, terminations, truncations (and the observations and state hashes, where
recorded) are compared step by step. Browser games are a participant's records; a group's games
(both runtimes) are the group's records, replayed from the group's seed and its canonical
inputs. ``--study`` defaults to the built-in demo study, as for ``python -m interactive_gym.run``.

One line per episode run, then a summary::

    verified          participant p-17  scene game  episode 0 attempt 1  200 steps
    DIFFERS           participant p-18  scene game  episode 1 attempt 1  step 17: reward 1.0 ...
    NOT REPLAYED      participant p-19  scene game  episode 2 attempt 1  no steps recorded
    NONDETERMINISTIC  group g0123...    scene duel  episode 0 attempt 0  ... differ at step 4 ...

Exit status: 0 every episode run replayed exactly as recorded; 1 at least one differs; 3 none
differs but some could not be replayed in full (the env cannot be built here, the env is not
deterministic, an episode was cut short: its page stopped before it ended, so only its recorded
steps were checked) or nothing was recorded; 2 bad
arguments (an unknown participant, a study that is not the database's, no database). An
episode that cannot be replayed is never passed as verified.

``--json PATH`` also writes every verdict as JSON (``-`` for standard output, then the lines go
to standard error). The server's own replay, when a participant completes, is the other half
(``server/verification.py``); this command replays the server runtime's games too, which the
server only marks as computed by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from interactive_gym.data.store import DEFAULT_URL, Store
from interactive_gym.db_option import NoDatabase, open_database, shown
from interactive_gym.replay import EpisodeVerdict, replay_group, replay_participant
from interactive_gym.server.seated_game import room_stand_ins
from interactive_gym.study import Experiment, GymScene, StudyError, load_study
from interactive_gym.study.loader import DEMO_STUDY

#: How each status is printed (padded to one width).
LABELS = {
    "verified": "verified",
    "cut_short": "CUT SHORT",
    "differs": "DIFFERS",
    "not_replayed": "NOT REPLAYED",
    "nondeterministic": "NONDETERMINISTIC",
}
#: Statuses of episode runs not replayed in full (exit status 3 when nothing differs).
UNCHECKED = ("cut_short", "not_replayed", "nondeterministic")
EXIT_OK, EXIT_DIFFERS, EXIT_USAGE, EXIT_UNCHECKED = 0, 1, 2, 3


@dataclass(frozen=True)
class Checked:
    """The verdict of one episode run, and whose run it is."""

    owner_kind: str  # "participant" or "group"
    owner: str
    verdict: EpisodeVerdict

    def as_json(self) -> dict[str, Any]:
        verdict = {**asdict(self.verdict), "status": self.verdict.status}
        return {"owner_kind": self.owner_kind, "owner": self.owner, **verdict}

    def line(self, width: int) -> str:
        v = self.verdict
        where = f"{self.owner_kind} {self.owner:<{width}}  scene {v.scene_id}  "
        where += f"episode {v.episode} attempt {v.attempt}"
        if v.status == "verified":
            said = f"{v.steps} steps"
        elif v.status == "cut_short":
            said = f"the {v.steps} recorded steps replay as recorded, but the episode has no "
            said += "summary: it stopped before its end (a reload, a closed page, a game still "
            said += "under way)"
        else:
            said = str(v.reason)
        return f"{LABELS[v.status]:<16}  {where}  {said}"


@dataclass(frozen=True)
class Owner:
    """A participant or a group, with its recorded runs to replay: ``scenes`` are replayed
    together, each entry of ``stand_ins`` (a group's) with the scene it names."""

    kind: str
    owner_id: str
    seed: int
    scenes: list[GymScene]
    stand_ins: dict[str, dict[str, Any]]


class UsageError(Exception):
    """The arguments name something the database or the study does not have."""


def owners(
    store: Store, experiment: Experiment, participant_ids: Sequence[str] | None
) -> list[Owner]:
    """The participants (all of the experiment's, or those named) and their groups."""
    games = [s for s in experiment.scenes_by_id.values() if isinstance(s, GymScene)]
    single = [s for s in games if not s.is_group]
    group_scenes = [s for s in games if s.is_group]
    if participant_ids:
        people = [_participant(store, experiment, pid) for pid in participant_ids]
        groups = {g.group_id: g for p in people for g in store.groups_of(p.participant_id)}
    else:
        people = store.participants(experiment.experiment_id)
        groups = {g.group_id: g for g in store.groups(experiment.experiment_id)}
        others = sorted({p.experiment_id for p in store.participants()})
        if not people and not groups and others:
            raise UsageError(
                f"--study: the database has no participant of experiment "
                f"{experiment.experiment_id!r}, only of {', '.join(map(repr, others))}; "
                "give the study file that ran this database"
            )
    found = [
        Owner(
            "participant",
            p.participant_id,
            p.seed,
            [s for s in single if s.scene_id in set(p.scene_order)],
            {},
        )
        for p in people
    ]
    for group in groups.values():
        seed = experiment.group_seed(group.group_id)
        stand_ins = {
            s.scene_id: room_stand_ins(experiment.room_of(s.scene_id), group, seed, s.scene_id)
            for s in group_scenes
        }
        found.append(Owner("group", group.group_id, seed, group_scenes, stand_ins))
    return found


def _participant(store: Store, experiment: Experiment, participant_id: str) -> Any:
    found = store.get_participant(participant_id)
    if found is None:
        raise UsageError(f"--participant {participant_id}: no such participant in the database")
    if found.experiment_id != experiment.experiment_id:
        raise UsageError(
            f"--participant {participant_id}: a participant of experiment "
            f"{found.experiment_id!r}, not of the study's {experiment.experiment_id!r}"
        )
    return found


def verify(
    store: Store,
    experiment: Experiment,
    participant_ids: Sequence[str] | None = None,
    *,
    check_policies: bool = False,
    time_limit_s: float | None = None,
) -> Iterator[Checked]:
    """Replay every recorded episode run of the study's participants and groups, in order."""
    for owner in owners(store, experiment, participant_ids):
        wanted = {s.scene_id for s in owner.scenes}
        records = [
            r
            for kind in ("step", "episode")
            for r in store.iter_records(owner.owner_id, kind=kind)
            if r["scene_id"] in wanted
        ]
        if not records:
            continue
        if owner.kind == "participant":
            results = [
                replay_participant(
                    owner.scenes,
                    records,
                    participant_seed=owner.seed,
                    check_policies=check_policies,
                    time_limit_s=time_limit_s,
                )
            ]
        else:  # one scene at a time: the waiting room's stand-ins are the scene's
            results = [
                replay_group(
                    scene,
                    records,
                    owner.seed,
                    stand_ins=owner.stand_ins.get(scene.scene_id),
                    check_policies=check_policies,
                    time_limit_s=time_limit_s,
                )
                for scene in owner.scenes
            ]
        for result in results:
            for episode in result.episodes:
                yield Checked(owner.kind, owner.owner_id, episode)


@dataclass
class Summary:
    """The counts of a run of the command."""

    counts: Counter[str]
    participants: int
    groups: int
    steps_replayed: int
    seconds: float

    @property
    def episodes(self) -> int:
        return sum(self.counts.values())

    @property
    def steps_per_s(self) -> float | None:
        return self.steps_replayed / self.seconds if self.seconds > 0 else None

    def exit_code(self) -> int:
        if self.counts["differs"]:
            return EXIT_DIFFERS
        if not self.episodes or any(self.counts[s] for s in UNCHECKED):
            return EXIT_UNCHECKED
        return EXIT_OK

    def text(self) -> str:
        if not self.episodes:
            return "nothing to verify: no recorded episode of a game scene in the database"
        parts = [f"{self.counts[s]} {LABELS[s].lower()}" for s in LABELS if self.counts[s]]
        owners = [(self.participants, "participant"), (self.groups, "group")]
        whose = " and ".join(f"{n} {name}{'s' * (n != 1)}" for n, name in owners if n)
        head = f"{self.episodes} episode runs of {whose}: {', '.join(parts)}"
        rate = f" ({self.steps_per_s:,.0f} steps/s)" if self.steps_per_s else ""
        verdict = {
            EXIT_OK: "every episode replayed exactly as recorded",
            EXIT_DIFFERS: "the data differs from what the environment gives",
            EXIT_UNCHECKED: "nothing differs, but not every episode could be replayed in full",
        }[self.exit_code()]
        return (
            f"{head}\n{self.steps_replayed:,} steps replayed in {self.seconds:.2f} s{rate}\n"
            f"{verdict}"
        )


def run(
    store: Store,
    experiment: Experiment,
    participant_ids: Sequence[str] | None,
    out: TextIO,
    *,
    check_policies: bool = False,
    time_limit_s: float | None = None,
) -> tuple[list[Checked], Summary]:
    """Replay, print a line per episode run to ``out`` as each is known, and sum up."""
    started = time.perf_counter()
    checked: list[Checked] = []
    for item in verify(
        store,
        experiment,
        participant_ids,
        check_policies=check_policies,
        time_limit_s=time_limit_s,
    ):
        checked.append(item)
        print(item.line(24), file=out, flush=True)
    replayed = {"verified", "cut_short", "differs"}
    summary = Summary(
        counts=Counter(c.verdict.status for c in checked),
        participants=len({c.owner for c in checked if c.owner_kind == "participant"}),
        groups=len({c.owner for c in checked if c.owner_kind == "group"}),
        steps_replayed=sum(c.verdict.steps for c in checked if c.verdict.status in replayed),
        seconds=time.perf_counter() - started,
    )
    return checked, summary


def report(experiment: Experiment, db: str, checked: list[Checked], summary: Summary) -> dict:
    """What ``--json`` writes."""
    return {
        "experiment_id": experiment.experiment_id,
        "database": shown(db),
        "finished_at": datetime.now(UTC).isoformat(),
        "summary": {
            **dict.fromkeys(LABELS, 0),
            **summary.counts,
            "episodes": summary.episodes,
            "participants": summary.participants,
            "groups": summary.groups,
            "steps_replayed": summary.steps_replayed,
            "seconds": round(summary.seconds, 3),
            "steps_per_s": summary.steps_per_s and round(summary.steps_per_s, 1),
            "exit_code": summary.exit_code(),
        },
        "episodes": [c.as_json() for c in checked],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m interactive_gym.verify",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", default=DEFAULT_URL, help="database URL (default: %(default)s)")
    parser.add_argument(
        "--study", type=Path, help="the study file that ran the database (default: the demo)"
    )
    parser.add_argument(
        "--participant",
        action="append",
        metavar="ID",
        help="only this participant and their groups (repeat for several)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write every verdict as JSON")
    parser.add_argument(
        "--check-policies",
        action="store_true",
        help="also recompute the actions of Python-policy agents (deterministic policies only)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="stop replaying one participant or group after this long (default: no limit)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Envs that render with pygame (Gymnasium's classic control) need no display or sound.
    for name in ("SDL_VIDEODRIVER", "SDL_AUDIODRIVER"):
        os.environ.setdefault(name, "dummy")
    try:
        experiment = load_study(args.study or DEMO_STUDY)
    except StudyError as exc:
        print(f"--study: the study cannot be loaded.\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        store = open_database(args.db)
    except NoDatabase as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    out = sys.stderr if args.json == "-" else sys.stdout
    try:
        checked, summary = run(
            store,
            experiment,
            args.participant,
            out,
            check_policies=args.check_policies,
            time_limit_s=args.time_limit,
        )
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    finally:
        store.close()
    print(summary.text(), file=out)
    if args.json:
        text = json.dumps(report(experiment, args.db, checked, summary), indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    return summary.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
