"""The study definition: what participants see, in which order, under which condition.

A study file builds one module-level ``experiment``::

    from interactive_gym.study import EndScene, Experiment, Likert, StaticScene, SurveyScene

    experiment = Experiment(
        "pilot",
        scenes=[
            StaticScene("consent", html_file="consent.html", consent="I agree to take part."),
            SurveyScene("feedback", questions=[Likert("fun", "The task was fun.")]),
            EndScene(completion_code="C1234ABC"),
        ],
        seed=7,
    )

See docs/study.md for every option.
"""

from interactive_gym.study.end_scene import EndScene
from interactive_gym.study.errors import ResponseError, StudyError
from interactive_gym.study.experiment import Experiment
from interactive_gym.study.gym import GymScene
from interactive_gym.study.gym_agents import PythonPolicy
from interactive_gym.study.loader import load_study
from interactive_gym.study.onnx_policy import OnnxPolicy
from interactive_gym.study.ordering import Conditions, RandomizeOrder
from interactive_gym.study.questions import FreeText, Likert, MultipleChoice, Number, Question
from interactive_gym.study.scene import SCENE_TYPES, ParticipantContext, Scene
from interactive_gym.study.seeds import derive_seed
from interactive_gym.study.static_scene import StaticScene
from interactive_gym.study.survey import SurveyScene
from interactive_gym.study.waiting_room import StandIn, WaitingParticipant, WaitingRoom

__all__ = [
    "SCENE_TYPES",
    "Conditions",
    "EndScene",
    "Experiment",
    "FreeText",
    "GymScene",
    "Likert",
    "MultipleChoice",
    "Number",
    "OnnxPolicy",
    "ParticipantContext",
    "PythonPolicy",
    "Question",
    "RandomizeOrder",
    "ResponseError",
    "StandIn",
    "Scene",
    "StaticScene",
    "StudyError",
    "SurveyScene",
    "WaitingParticipant",
    "WaitingRoom",
    "derive_seed",
    "load_study",
]
