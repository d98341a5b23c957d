"""``python -m interactive_gym.export --format minari``: a game scene's episodes as Minari data.

    python -m interactive_gym.export --format minari --scene SCENE --dataset-id NAMESPACE/NAME-v0
        [--out DIR] [--study study.py] [--agent AGENT] [--db URL] [--experiment ID]
        [--participant ID ...] [--complete-only] [--author NAME] [--author-email EMAIL]
        [--description TEXT] [--code-permalink URL]

Writes the Minari dataset (the Farama Foundation's format for offline RL) ``NAMESPACE/NAME-vN``
in the datasets root ``DIR`` (what ``MINARI_DATASETS_PATH`` names; default Minari's own,
``~/.minari/datasets``), so ``minari.load_dataset(id)`` finds it there. Needs the ``minari``
extra: ``pip install 'interactive-gym[minari]'``.

The episodes are the scene's recorded runs that replay as recorded
(:mod:`interactive_gym.dataset_episodes`): one Minari episode per run and agent, the human
agent's (each human agent's in a group game; ``--agent`` picks one agent, human or AI). The
observation and action spaces are the env's own when it declares them (``observation_space``
/ ``action_space``), else inferred from the data (:mod:`interactive_gym.dataset_spaces`); the
dataset's metadata says which, how the observations were obtained, and who and what the
episodes come from (key ``interactive_gym``; per episode: the owner, episode, attempt, agent,
participant and how it ended). See docs/datasets.md; what goes into the dataset is
``minari_contents.py``.

Nothing is written unless every check passes: a bad flag, a scene that is not a game, no
episode to write or an existing dataset of that id stop the command (exit code 2) with a
message naming the flag, and a failure while writing removes what was written.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from interactive_gym.dataset_episodes import Collected, Skipped, collect
from interactive_gym.db_option import NoDatabase, open_database, shown
from interactive_gym.minari_contents import (
    DatasetError,
    algorithm_name,
    buffers,
    choose_spaces,
    env_spec,
    episode_metadata,
    metadata,
)
from interactive_gym.study import Experiment, GymScene, StudyError, load_study
from interactive_gym.study.loader import DEMO_STUDY

INSTALL = "pip install 'interactive-gym[minari]'"


def require_minari() -> None:
    """Raise :class:`DatasetError` saying how to install Minari when it cannot be imported."""
    try:
        import h5py  # noqa: F401
        import minari  # noqa: F401
    except ImportError as error:
        raise DatasetError(
            f"--format minari needs the minari package ({error.name or error} is not "
            f"installed): {INSTALL}"
        ) from None


def check_dataset_id(dataset_id: str) -> tuple[str, str, int]:
    """``(namespace, name, version)`` of a ``NAMESPACE/NAME-vN`` id, as Minari parses it."""
    from minari.dataset.minari_dataset import DATASET_ID_RE

    match = DATASET_ID_RE.fullmatch(dataset_id)
    namespace, name, version = (
        match.group("namespace", "dataset", "version") if match else [None] * 3
    )
    if not namespace or not name or version is None:
        raise DatasetError(
            f"--dataset-id {dataset_id!r}: expected NAMESPACE/NAME-vN (letters, digits, - and "
            f"_; e.g. my-lab/kitchen-human-v0)"
        )
    return namespace, name, int(version)


def load_scene(study: Path | None, scene_id: str) -> tuple[Experiment, GymScene, Path]:
    path = study or DEMO_STUDY
    try:
        experiment = load_study(path)
    except StudyError as error:
        raise DatasetError(f"--study {path}: the study cannot be loaded.\n{error}") from None
    games = [s for s in experiment.scenes_by_id.values() if isinstance(s, GymScene)]
    scene = experiment.scenes_by_id.get(scene_id)
    if not isinstance(scene, GymScene):
        what = "is not a game scene" if scene is not None else "is not a scene of the study"
        names = ", ".join(g.scene_id for g in games) or "none"
        raise DatasetError(f"--scene {scene_id!r} {what} (study {path}; its game scenes: {names})")
    return experiment, scene, Path(path)


def choose_agents(scene: GymScene, agent: str | None) -> list[str]:
    """``--agent``, or every human agent of the scene."""
    names = ", ".join(str(a) for a in scene.agents)
    if agent is not None:
        if agent not in scene.agents:
            raise DatasetError(
                f"--agent {agent!r}: the scene {scene.scene_id!r} has agents {names}"
            )
        return [agent]
    if not scene.humans:
        raise DatasetError(
            f"--agent: the scene {scene.scene_id!r} has no human agent; choose one of {names}"
        )
    return [str(h) for h in scene.humans]


@contextlib.contextmanager
def datasets_root(out: Path | None) -> Iterator[None]:
    """``MINARI_DATASETS_PATH`` set to ``out`` (when given) while Minari is called."""
    if out is None:
        yield
        return
    saved = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(out.resolve())
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = saved


def write(
    args: argparse.Namespace,
    experiment: Experiment,
    scene: GymScene,
    study: Path,
    agents: list[str],
    collected: Collected,
) -> Path:
    """Write the dataset; on any failure remove what was written, then raise."""
    import minari
    from minari.storage.datasets_root_dir import get_dataset_path

    chosen = choose_spaces(scene, collected.trajectories)
    episodes = buffers(collected.trajectories, chosen)
    with datasets_root(args.out):
        path = Path(get_dataset_path(args.dataset_id))
        check_free(args.dataset_id, path)
        # what a failure removes: the dataset, and the namespace folders made for it
        parts = args.dataset_id.split("/")
        folders = [Path(get_dataset_path("/".join(parts[:i]))) for i in range(1, len(parts))]
        made = next((f for f in folders if not f.exists()), path)
        description = args.description or (
            f"Episodes of the game scene {scene.scene_id!r} of the study "
            f"{experiment.experiment_id!r}, recorded with Interactive Gym "
            f"(agent {', '.join(agents)})."
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                dataset = minari.create_dataset_from_buffers(
                    dataset_id=args.dataset_id,
                    buffer=episodes,
                    env=env_spec(scene),
                    observation_space=chosen.observation,
                    action_space=chosen.action,
                    algorithm_name=algorithm_name(scene, agents),
                    author=args.author,
                    author_email=args.author_email,
                    code_permalink=args.code_permalink,
                    description=description,
                    jpeg_encoding=False,
                )
                dataset.storage.update_metadata(
                    {
                        "interactive_gym": metadata(
                            args, experiment, scene, study, agents, collected, chosen
                        )
                    }  # fmt: skip
                )
                dataset.storage.update_episode_metadata(
                    [episode_metadata(t) for t in collected.trajectories]
                )
        except BaseException:
            shutil.rmtree(made, ignore_errors=True)
            raise
    return path


def datasets_folder(out: Path | None) -> Path:
    """The datasets root Minari uses (``minari.storage.datasets_root_dir``), not created."""
    if out is not None:
        return out.resolve()
    named = os.environ.get("MINARI_DATASETS_PATH")
    return Path(named) if named is not None else Path.home() / ".minari" / "datasets"


def check_free(dataset_id: str, path: Path) -> None:
    if path.exists():
        raise DatasetError(
            f"--dataset-id {dataset_id}: a dataset already exists at {path}; choose another "
            f"name or version"
        )


def collect_episodes(
    args: argparse.Namespace, experiment: Experiment, scene: GymScene, agents: list[str]
) -> Collected:
    try:
        store = open_database(args.db)
    except NoDatabase as exc:
        raise DatasetError(str(exc)) from None
    try:
        if args.participant:
            known = {p.participant_id for p in store.participants(experiment.experiment_id)}
            unknown = [p for p in args.participant if p not in known]
            if unknown:
                raise DatasetError(
                    f"--participant {unknown[0]}: no such participant in experiment "
                    f"{experiment.experiment_id!r}"
                )
        return collect(store, experiment, scene, agents, args.participant)
    finally:
        store.close()


def export_minari(args: argparse.Namespace) -> int:
    """Run the command for parsed arguments (``export.parse_args``); the exit code."""
    require_minari()
    check_dataset_id(args.dataset_id)
    experiment, scene, study = load_scene(args.study, args.scene)
    if args.experiment is not None and args.experiment != experiment.experiment_id:
        raise DatasetError(
            f"--experiment {args.experiment!r}: the study {study} is experiment "
            f"{experiment.experiment_id!r}"
        )
    agents = choose_agents(scene, args.agent)
    check_free(args.dataset_id, datasets_folder(args.out) / args.dataset_id)
    collected = collect_episodes(args, experiment, scene, agents)
    trajectories = collected.trajectories
    if args.complete_only:
        for t in [t for t in trajectories if t.cut_short]:
            collected.skipped.append(
                Skipped(f"{t.where()} agent {t.agent}", "cut short (--complete-only)")
            )
        collected.trajectories = [t for t in trajectories if not t.cut_short]
    report_skipped(collected)
    if not collected.trajectories:
        filters = "".join(f" --participant {p}" for p in args.participant or [])
        raise DatasetError(
            f"--scene {scene.scene_id!r}: no episode to write (experiment "
            f"{experiment.experiment_id!r}{filters}, database {shown(args.db)})"
        )
    path = write(args, experiment, scene, study, agents, collected)
    steps = sum(len(t.actions) for t in collected.trajectories)
    cut = sum(t.cut_short for t in collected.trajectories)
    cut_text = f"; {cut} cut short, their last step marked truncated" if cut else ""
    print(
        f"{path}: {len(collected.trajectories)} episodes, {steps} steps (scene "
        f"{scene.scene_id}, agent {', '.join(agents)}{cut_text})"
    )
    missing = [f"--{f.replace('_', '-')}" for f in ("author", "author_email", "code_permalink")
               if getattr(args, f) is None]  # fmt: skip
    if missing:
        print(f"note: no {', '.join(missing)} given; Minari recommends them")
    return 0


def report_skipped(collected: Collected) -> None:
    skipped = collected.skipped
    if not skipped:
        return
    runs = sum(s.runs for s in skipped)
    print(f"{runs} run{'s' if runs != 1 else ''} left out:")
    for s in skipped:
        count = f" ({s.runs} runs)" if s.runs != 1 else ""
        print(f"  {s.where}{count}: {s.reason}")


def run(args: argparse.Namespace) -> int:
    """:func:`export_minari`, with a :class:`DatasetError` printed and exit code 2."""
    try:
        return export_minari(args)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
