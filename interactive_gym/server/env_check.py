"""At study start: every game the server runs must be able to build its environment.

:func:`check_server_scenes` builds the env of each ``GymScene(runtime="server")`` once, with
its game (agents, controls, HUD function) and one reset, in a short-lived child process (env
code never runs in the server process), so a missing package, a misspelt ``env_id`` or an env
that raises stops the start with a message naming the scene and the field::

    scene 'cartpole': env_id 'CartPol-v1': NameNotFound: Environment `CartPol` doesn't exist.

The child is this module run as ``python -m interactive_gym.server.env_check``: it reads the
specs (JSON) on stdin and writes one result per scene (JSON) on stdout. The other half, where
the envs run while participants play: ``env_pool.py``/``env_process.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from interactive_gym.study import Experiment, GymScene, StudyError
from interactive_gym.study.scene import ParticipantContext

#: Seconds the whole check may take beyond the scenes' own load_timeout_s.
EXTRA_TIMEOUT_S = 30.0


def server_scenes(experiment: Experiment) -> list[GymScene]:
    """The experiment's games that run on the server."""
    return [
        s
        for s in experiment.scenes_by_id.values()
        if isinstance(s, GymScene) and s.runtime == "server"
    ]


def check_server_scenes(experiment: Experiment) -> None:
    """Build every server-runtime scene's env once; :class:`StudyError` naming the first that
    cannot be built (scene, field and the error)."""
    scenes = server_scenes(experiment)
    if not scenes:
        return
    ctx = ParticipantContext("env-check", experiment.experiment_id, seed=0)
    specs = [{"scene_id": s.scene_id, "spec": s.game_spec(ctx)} for s in scenes]
    timeout = max(s.load_timeout_s for s in scenes) * len(scenes) + EXTRA_TIMEOUT_S
    try:
        done = subprocess.run(
            [sys.executable, "-m", "interactive_gym.server.env_check"],
            input=json.dumps(specs),
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            check=False,
        )
    except subprocess.TimeoutExpired:
        names = ", ".join(repr(s.scene_id) for s in scenes)
        raise StudyError(
            f"scenes {names}",
            f"building the environments took longer than {timeout:.0f} s",
            "check that the env's constructor and reset() finish quickly",
        ) from None
    results = _results(done)
    for scene in scenes:
        result = results.get(scene.scene_id)
        if result is None:
            detail = (done.stderr or "").strip().splitlines()[-1:] or ["no answer"]
            raise StudyError(
                f"scene {scene.scene_id!r}",
                f"{scene.env_source.describe()}: the check of the environment failed "
                f"({detail[0][:300]})",
            )
        if not result["ok"]:
            stage = result.get("stage")
            message = result.get("message", "")
            problem = f"{scene.env_source.describe()}: {message}" if stage == "env" else message
            raise StudyError(
                f"scene {scene.scene_id!r}",
                problem,
                _fix(stage),
            )


def _results(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    for line in reversed((done.stdout or "").splitlines()):
        if line.startswith("{"):
            try:
                found = json.loads(line)
            except ValueError:
                continue
            if isinstance(found, dict) and isinstance(found.get("results"), dict):
                return found["results"]
    return {}


def _fix(stage: str | None) -> str:
    if stage == "env":
        return "install the package that provides the environment, or fix the field's value"
    if stage == "reset":
        return "the environment's reset(seed=...) must work with a seed"
    return "fix the scene's options so they fit the environment"


# -- the child process ---------------------------------------------------------------------


def _check_one(spec: dict[str, Any]) -> dict[str, Any]:
    from interactive_gym.runtime.env_host import EnvHost, describe_error
    from interactive_gym.runtime.game_host import GameHost
    from interactive_gym.server.env_process import GAME_FIELDS, close_env

    def failure(stage: str, error: BaseException) -> dict[str, Any]:
        details = describe_error(error)
        message = str(details.get("message", error))
        kind = str(details.get("type", type(error).__name__))
        if stage == "env" and not message.startswith(kind):
            message = f"{kind}: {message}"
        return {"ok": False, "stage": stage, "message": message[:2000]}

    env = {k: v for k, v in spec["env"].items() if v is not None}
    host = EnvHost()
    try:
        host.init_env(**env)
    except BaseException as error:  # noqa: BLE001 - report whatever the env raised
        return failure("env", error)
    try:
        options: dict[str, Any] = {k: spec[k] for k in GAME_FIELDS if k in spec}
        game = GameHost(host, **options)
    except BaseException as error:  # noqa: BLE001
        return failure("game", error)
    try:
        game.start_episode(seed=0)
    except BaseException as error:  # noqa: BLE001
        return failure("reset", error)
    finally:
        close_env(host.env)
    return {"ok": True}


def main() -> None:
    specs = json.loads(sys.stdin.read())
    results = {item["scene_id"]: _check_one(item["spec"]) for item in specs}
    sys.stdout.write("\n" + json.dumps({"results": results}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
