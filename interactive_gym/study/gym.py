"""GymScene: the game scene's place in the study (the scene itself is not part of this version).

The scene type ``"gym"`` is registered so studies, the page shell and the data path already
know it; building one fails with a StudyError saying it is not available yet. The game scene
plugs in through the same hooks as every other scene type:

Python (this class, a :class:`~interactive_gym.study.scene.Scene`):
    ``__init__(scene_id, *, env_file=..., ..., **unknown)`` checks its options and calls
    ``super().__init__(scene_id, unknown)``; ``load_files(base_dir)`` reads the environment and
    policy files; ``client_options(ctx)`` returns the environment code, config, agents,
    controls, frame rate and per-episode seeds ``derive_seed(ctx.seed, scene_id, "episode", i)``;
    ``validate_response(response, ctx)`` checks the summary the browser sends at the end.

Browser (``static/js/study/scenes/gym.js``, the interface in ``scene_api.js``):
    ``preload(scene, ctx)`` starts the Pyodide worker and loads the environment while earlier
    scenes are shown; ``run(scene, ctx)`` plays the episodes, sending each step with
    ``ctx.record({kind: "step", episode, attempt, step, data})``, publishing progress with
    ``ctx.setStatus({episode, step})``, and resolves with the response; ``bot(scene, ctx)``
    presses random keys through the same keyboard handlers a person uses.
"""

from __future__ import annotations

from interactive_gym.study.errors import StudyError
from interactive_gym.study.scene import SCENE_MODULES, Scene


class GymScene(Scene):
    """A Gymnasium-style environment played in the browser (not available in this version)."""

    scene_type = "gym"
    client_module = SCENE_MODULES + "gym.js"

    def __init__(self, scene_id: str, **options: object) -> None:
        raise StudyError(
            f"GymScene({scene_id!r})",
            "the game scene is not available in this version of Interactive Gym",
            "use StaticScene, SurveyScene and EndScene for now",
        )
