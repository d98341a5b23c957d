"""Loading a study file: run it as a module and take its module-level ``experiment``.

Anything that goes wrong becomes one :class:`StudyError` pointing at the study file's line, so
``python -m interactive_gym.run bad.py`` prints a short message instead of a traceback.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from interactive_gym.study.errors import StudyError
from interactive_gym.study.experiment import Experiment

#: The study served when none is given: consent, instructions, survey, end.
DEMO_STUDY = Path(__file__).resolve().parent.parent / "examples" / "demo_study.py"


def _location(path: Path, exc: BaseException) -> str:
    """``file:line`` of the deepest frame of ``exc`` inside the study file."""
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename).resolve() == path:
        return f"{path}:{exc.lineno}"
    location = str(path)
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path:
            location = f"{path}:{frame.lineno}"
    return location


def _run_module(path: Path) -> ModuleType:
    name = "interactive_gym_study_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise StudyError(str(path), "cannot be loaded as a Python module", "name it *.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))  # a study may import helpers beside it
    try:
        spec.loader.exec_module(module)
    except StudyError as exc:
        raise exc.at(_location(path, exc)) from None
    except Exception as exc:
        where = _location(path, exc)
        detail = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise StudyError(
            f"{type(exc).__name__}", detail or "raised without a message", location=where
        ) from None
    finally:
        sys.path.remove(str(path.parent))
    return module


def load_study(path: str | Path) -> Experiment:
    """The ``experiment`` defined by the study file at ``path``; StudyError if it cannot be."""
    path = Path(path).resolve()
    if not path.is_file():
        raise StudyError(str(path), "no such study file", "check the path to your study file")
    if path.suffix != ".py":
        raise StudyError(str(path), "a study file is a Python file", "name it *.py")
    module = _run_module(path)
    experiment = getattr(module, "experiment", None)
    if not isinstance(experiment, Experiment):
        found = "nothing" if experiment is None else f"a value of type {type(experiment).__name__}"
        raise StudyError(
            str(path),
            f"the module-level name 'experiment' holds {found}, not an Experiment",
            "end the file with: experiment = Experiment('my_study', scenes=[...])",
        )
    return experiment
