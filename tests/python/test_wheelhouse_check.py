"""The start-up check that the wheelhouse holds every package the browser games install."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from wheels import make_wheel

from interactive_gym import run
from interactive_gym.server.settings import default_node_modules
from interactive_gym.server.wheelhouse import Wheelhouse
from interactive_gym.server.wheelhouse_check import (
    PyodidePackages,
    WheelhouseIncomplete,
    browser_packages,
    check_wheelhouse,
    missing_packages,
)
from interactive_gym.study import EndScene, Experiment, GymScene, StaticScene

ENV = """
class Env:
    num_actions = 3

    def reset(self, seed=None, options=None):
        return 0, {}

    def step(self, action):
        return 0, 0.0, False, False, {}


def make_env(**config):
    return Env()
"""
#: Pyodide with a package source: numpy comes from it (a package built for Pyodide).
WITH_SOURCE = PyodidePackages(
    frozenset({"numpy"}), {"numpy": "numpy-2.4.6-cp314-cp314-pyemscripten_2026_0_wasm32.whl"}
)
#: Offline Pyodide: nothing comes from a package source.
OFFLINE = PyodidePackages(frozenset(), WITH_SOURCE.shipped)


def experiment(folder: Path, *games: tuple[str, list[str]], runtime: str | None = None) -> Any:
    (folder / "env.py").write_text(ENV)
    scenes: list[Any] = [StaticScene("info", html="i")]
    for scene_id, packages in games:
        scene = GymScene(
            scene_id,
            env_file="env.py",
            agents={0: "human"},
            controls={"ArrowLeft": 0},
            packages=packages,
        )
        if runtime is not None:
            scene.runtime = runtime  # type: ignore[attr-defined]
        scenes.append(scene)
    return Experiment("e", scenes=[*scenes, EndScene()], base_dir=folder)


@pytest.fixture
def house(tmp_path: Path) -> Path:
    """micropip; pkg-a needs pkg-b, pkg-b needs numpy in Pyodide only; test/Windows deps unused."""
    directory = tmp_path / "wheels"
    directory.mkdir()
    make_wheel(directory, "micropip", "0.11.1", {"micropip/__init__.py": ""})
    make_wheel(
        directory,
        "pkg-a",
        "1.0",
        {"pkg_a.py": ""},
        requires=("Pkg_B>=1", "pytest; extra == 'test'", "pkg-c; extra == 'fast'"),
    )
    make_wheel(
        directory,
        "pkg-b",
        "1.5",
        {"pkg_b.py": ""},
        requires=(
            "numpy; sys_platform == 'emscripten'",
            "pywin32; sys_platform == 'win32'",
            "old-backport; python_version < '3.9'",
        ),
    )
    return directory


def test_a_complete_wheelhouse_passes(tmp_path: Path, house: Path) -> None:
    study = experiment(tmp_path, ("game", ["pkg-a"]))
    assert browser_packages(study) == {"game": ["pkg-a"]}
    assert check_wheelhouse(study, house, pyodide=WITH_SOURCE) == []


def test_a_study_without_packages_needs_nothing_not_even_micropip(tmp_path: Path) -> None:
    study = experiment(tmp_path, ("game", []))
    assert check_wheelhouse(study, tmp_path / "no-such-folder", pyodide=OFFLINE) == []


def test_a_missing_dependency_names_the_scene_the_package_and_the_command(
    tmp_path: Path, house: Path
) -> None:
    (house / "pkg_b-1.5-py3-none-any.whl").unlink()
    study = experiment(tmp_path, ("game", ["pkg-a"]))
    with pytest.raises(WheelhouseIncomplete) as caught:
        check_wheelhouse(study, house, pyodide=WITH_SOURCE)
    text = str(caught.value)
    assert "scene 'game': package 'pkg-b>=1' (needed by pkg-a) is not in the wheelhouse" in text
    assert "python -m interactive_gym.wheelhouse add 'pkg-b>=1'" in text
    assert "--fill-wheelhouse" in text
    assert [m.requirement for m in caught.value.missing] == ["pkg-b>=1"]


def test_missing_micropip_and_a_missing_package_are_named(tmp_path: Path, house: Path) -> None:
    (house / "micropip-0.11.1-py3-none-any.whl").unlink()
    study = experiment(tmp_path, ("one", ["pkg-a", "nowhere"]), ("two", ["nowhere"]))
    with pytest.raises(WheelhouseIncomplete) as caught:
        check_wheelhouse(study, house, pyodide=WITH_SOURCE)
    missing = [(m.scene_id, m.requirement) for m in caught.value.missing]
    # micropip once (the first scene installing anything loads it), every scene's own names.
    assert missing == [("one", "micropip==0.11.1"), ("one", "nowhere"), ("two", "nowhere")]
    assert "add 'micropip==0.11.1'" in str(caught.value)
    assert "python -m interactive_gym.wheelhouse add nowhere`" in str(caught.value)


def test_extras_asked_for_pull_in_their_dependencies(tmp_path: Path, house: Path) -> None:
    study = experiment(tmp_path, ("game", ["pkg-a[fast]"]))
    missing = missing_packages(study, Wheelhouse(house), WITH_SOURCE)
    assert [(m.requirement, m.needed_by) for m in missing] == [("pkg-c", ("pkg-a",))]


def test_a_version_the_wheelhouse_lacks_is_named_with_what_it_has(
    tmp_path: Path, house: Path
) -> None:
    study = experiment(tmp_path, ("game", ["pkg-a>=2"]))
    with pytest.raises(WheelhouseIncomplete, match="'pkg-a>=2' is in the wheelhouse only as 1.0"):
        check_wheelhouse(study, house, pyodide=WITH_SOURCE)


def test_a_pyodide_package_without_a_package_source_asks_for_one(
    tmp_path: Path, house: Path
) -> None:
    study = experiment(tmp_path, ("game", ["pkg-a"]))
    with pytest.raises(WheelhouseIncomplete) as caught:
        check_wheelhouse(study, house, fill=True, pyodide=OFFLINE)  # fill cannot help
    text = str(caught.value)
    assert "package 'numpy' (needed by pkg-a → pkg-b) is a package built for Pyodide" in text
    assert "--pyodide-packages cdn" in text and "wheelhouse add numpy" not in text


def test_server_runtime_scenes_are_not_checked(tmp_path: Path) -> None:
    study = experiment(tmp_path, ("game", ["nowhere"]), runtime="server")
    assert browser_packages(study) == {}
    assert check_wheelhouse(study, tmp_path / "empty", pyodide=OFFLINE) == []


def test_fill_adds_what_is_missing_round_by_round(
    tmp_path: Path, house: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--fill-wheelhouse`` adds each missing name without pip's resolver, then resolves again."""
    source = tmp_path / "index"
    shutil.copytree(house, source)
    empty = tmp_path / "empty-house"
    calls: list[tuple[list[str], bool]] = []

    def add(self: Wheelhouse, requirements: list[str], *, with_deps: bool = True) -> None:
        calls.append((requirements, with_deps))
        self.directory.mkdir(parents=True, exist_ok=True)
        for requirement in requirements:
            name = requirement.split("=")[0].split(">")[0].replace("-", "_")
            for wheel in source.glob(f"{name}-*.whl"):
                shutil.copy(wheel, self.directory)

    monkeypatch.setattr(Wheelhouse, "add", add)
    study = experiment(tmp_path, ("game", ["pkg-a"]))
    added = check_wheelhouse(study, empty, fill=True, pyodide=WITH_SOURCE)
    assert calls == [(["micropip==0.11.1", "pkg-a"], False), (["pkg-b>=1"], False)]
    assert added == ["micropip==0.11.1", "pkg-a", "pkg-b>=1"]
    assert check_wheelhouse(study, empty, pyodide=WITH_SOURCE) == []


def test_fill_stops_when_an_added_package_is_still_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Wheelhouse, "add", lambda self, requirements, with_deps=True: None)
    study = experiment(tmp_path, ("game", ["nowhere"]))
    with pytest.raises(WheelhouseIncomplete, match="nowhere"):
        check_wheelhouse(study, tmp_path / "house", fill=True, pyodide=WITH_SOURCE)


def test_the_package_source_decides_what_pyodide_provides(tmp_path: Path) -> None:
    node_modules = default_node_modules()
    offline = PyodidePackages.from_settings("none", node_modules)
    cdn = PyodidePackages.from_settings("cdn", node_modules)
    assert not offline.available and "numpy" in cdn.available
    assert offline.binary("numpy") and not offline.binary("no-such-package")
    assert cdn.python.startswith("3.14")
    (tmp_path / "pyodide-lock.json").write_text('{"packages": {"Only_This": {}}}')
    folder = PyodidePackages.from_settings(str(tmp_path), node_modules)
    assert folder.available == {"only-this"}


STUDY = """
from interactive_gym.study import EndScene, Experiment, GymScene
game = GymScene("game", env_file="env.py", agents={0: "human"}, controls={"ArrowLeft": 0},
                packages=["pkg-a"])
experiment = Experiment("e", scenes=[game, EndScene()])
"""


def test_the_start_stops_with_the_message(
    tmp_path: Path, house: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "env.py").write_text(ENV)
    (tmp_path / "study.py").write_text(STUDY)
    (house / "pkg_a-1.0-py3-none-any.whl").unlink()
    served: list[Any] = []
    monkeypatch.setattr(run.uvicorn, "run", lambda app, **kw: served.append(app))
    argv = [str(tmp_path / "study.py"), "--wheelhouse", str(house), "--pyodide-packages", "cdn"]
    with pytest.raises(SystemExit) as stopped:
        run.main([*argv, "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"])
    assert stopped.value.code == 2 and not served
    err = capsys.readouterr().err
    assert "the study cannot start" in err
    assert "scene 'game': package 'pkg-a' is not in the wheelhouse" in err
    assert "python -m interactive_gym.wheelhouse add pkg-a" in err


def test_production_is_a_flag() -> None:
    assert run.settings_from_args(run.parse_args([])).production is False
    assert run.settings_from_args(run.parse_args(["--production"])).production is True
    assert run.parse_args(["--fill-wheelhouse"]).fill_wheelhouse is True


def test_a_malformed_name_is_named_and_not_filled(tmp_path: Path, house: Path) -> None:
    study = experiment(tmp_path, ("game", ["pkg-a", "not a name!"]))
    with pytest.raises(WheelhouseIncomplete) as caught:
        check_wheelhouse(study, house, fill=True, pyodide=WITH_SOURCE)
    assert "package 'not a name!' is not a valid requirement" in str(caught.value)
    assert "--fill-wheelhouse" not in str(caught.value)


def test_a_requirement_for_another_platform_is_skipped(tmp_path: Path, house: Path) -> None:
    study = experiment(tmp_path, ("game", ["pkg-a", "pywin32; sys_platform == 'win32'"]))
    assert check_wheelhouse(study, house, pyodide=WITH_SOURCE) == []
