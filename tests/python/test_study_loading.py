"""Loading study files, and `python -m interactive_gym.run` refusing a bad one in a few lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from interactive_gym.study import Experiment, StudyError, load_study
from interactive_gym.study.loader import DEMO_STUDY

GOOD = """
from interactive_gym.study import EndScene, Experiment, StaticScene
experiment = Experiment("good", scenes=[StaticScene("info", html_file="info.html"), EndScene()])
"""


def write(folder: Path, text: str, name: str = "study.py") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_a_study_file_loads_with_files_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "info.html").write_text("<p>Info</p>")
    experiment = load_study(write(tmp_path, GOOD))
    assert experiment.experiment_id == "good"
    assert experiment.base_dir == tmp_path.resolve()
    assert experiment.scene("info").html == "<p>Info</p>"  # type: ignore[attr-defined]


def test_a_study_may_import_a_helper_beside_it(tmp_path: Path) -> None:
    write(tmp_path, "from interactive_gym.study import EndScene\nEND = EndScene()\n", "helper.py")
    text = "from helper import END\nfrom interactive_gym.study import Experiment\n"
    text += "experiment = Experiment('x', scenes=[END])\n"
    assert load_study(write(tmp_path, text)).experiment_id == "x"


def test_the_demo_study_loads() -> None:
    experiment = load_study(DEMO_STUDY)
    assert isinstance(experiment, Experiment)
    assert list(experiment.scenes_by_id) == ["consent", "instructions", "kitchen", "survey", "end"]
    assert experiment.scene("consent").consent  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (GOOD.replace('html_file="info.html"', 'html_file="info.html", titel="x"'), 3,
         "unknown option 'titel'"),
        (GOOD, 3, "html_file 'info.html': no such file"),
        ("from interactive_gym.study import *\nexperiment = Experiment('x', scenes=[EndScene(),\n",
         2, "SyntaxError"),
        ("x = 1\nexperiment = undefined_name\n", 2, "name 'undefined_name' is not defined"),
        ("experiment = 3\n", None, "holds a value of type int, not an Experiment"),
        ("x = 1\n", None, "holds nothing, not an Experiment"),
    ],
)  # fmt: skip
def test_a_bad_study_file_is_one_located_message(
    tmp_path: Path, text: str, line: int | None, fragment: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(StudyError) as err:
        load_study(path)
    message = str(err.value)
    assert fragment in message
    assert str(path) in message
    if line is not None:
        assert f"{path}:{line}:" in message


def test_missing_and_non_python_files(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match="no such study file"):
        load_study(tmp_path / "nope.py")
    with pytest.raises(StudyError, match="a study file is a Python file"):
        load_study(write(tmp_path, "x", "study.txt"))


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "interactive_gym.run", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_run_refuses_a_bad_study_with_the_message_and_no_traceback(tmp_path: Path) -> None:
    bad = write(tmp_path, GOOD.replace("EndScene()", "EndScene(completion_code=42)"))
    result = run_cli(str(bad), "--port", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert "completion_code must be a non-empty string or None, got int 42" in result.stderr
    assert f"{bad}:3" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 4


def test_run_refuses_a_duplicate_scene_id(tmp_path: Path) -> None:
    text = (
        "from interactive_gym.study import *\n"
        "a = StaticScene('intro', html='a')\n"
        "b = StaticScene('intro', html='b')\n"
        "experiment = Experiment('x', scenes=[a, b, EndScene()])\n"
    )
    result = run_cli(str(write(tmp_path, text)), cwd=tmp_path)
    assert result.returncode == 2
    assert "scene id 'intro' is used twice" in result.stderr
    assert "fix: give every scene its own scene_id" in result.stderr
    assert "Traceback" not in result.stderr
