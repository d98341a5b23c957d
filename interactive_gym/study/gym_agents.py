"""Who plays each agent of a game scene: a person, a random policy, or an AI policy.

``GymScene(agents={0: "human", 1: PythonPolicy("policies/partner.py")})``. Every AI policy
runs inside the participant's browser, in the Pyodide worker beside the environment, in the
same round trip as the step:

- ``"random"``: a uniformly random action each step, drawn from the episode's seed.
- :class:`PythonPolicy`: a Python file defining ``policy(observation, agent_id) -> action``.
- :class:`~interactive_gym.study.onnx_policy.OnnxPolicy`: an ONNX model (onnxruntime-web).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from interactive_gym.study.errors import StudyError
from interactive_gym.study.onnx_policy import OnnxPolicy
from interactive_gym.study.options import check_file, check_str, describe
from interactive_gym.study.seeds import derive_seed

AGENT_WORDS = ("human", "random")


def compile_source(where: str, field: str, path: Path) -> str:
    """Read a Python file and check that it compiles; the error names its line."""
    source = path.read_text(encoding="utf-8")
    try:
        compile(source, str(path), "exec")
    except SyntaxError as error:
        raise StudyError(
            where,
            f"{field} {path.name} line {error.lineno}: {error.msg}",
            "fix the Python syntax in that file",
        ) from None
    return source


def top_level_names(source: str) -> set[str]:
    """Names a module binds at top level (functions, classes, assignments, imports)."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


class PythonPolicy:
    """An AI agent whose actions come from a Python function, run in the browser's worker.

    Args:
        file: the Python file, relative to the study file's folder. Standard library only
            (or packages listed in the scene's ``packages``).
        function: the function's name; it is called as ``function(observation, agent_id,
            **config)`` once per step and returns the action.
        config: keyword arguments passed on every call (JSON values).
    """

    def __init__(
        self,
        file: str | Path,
        *,
        function: str = "policy",
        config: Mapping[str, Any] | None = None,
    ) -> None:
        where = f"PythonPolicy({str(file)!r})"
        if not isinstance(file, str | Path) or not str(file):
            raise StudyError(where, f"file must be a file path, got {describe(file)}")
        self.file = file
        self.function = check_str(where, "function", function)
        if config is not None and not isinstance(config, Mapping):
            raise StudyError(where, f"config must be a dict, got {describe(config)}")
        try:
            json.dumps(dict(config or {}), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise StudyError(where, f"config must hold JSON values only: {error}") from None
        self.config = dict(config or {})
        self.code: str | None = None
        self.filename = Path(file).name

    def __repr__(self) -> str:
        return f"PythonPolicy({str(self.file)!r})"

    def load(self, base_dir: Path, where: str) -> None:
        """Read the file and check it compiles and defines the function."""
        path = check_file(where, "file", self.file, base_dir)
        self.code = compile_source(where, "file", path)
        if self.function not in top_level_names(self.code):
            raise StudyError(
                where,
                f"{path.name} defines no function {self.function}(observation, agent_id)",
                "define it, or name the function with function=...",
            )

    def to_client(self) -> dict[str, Any]:
        return {
            "kind": "python",
            "code": self.code,
            "filename": self.filename,
            "function": self.function,
            "config": self.config,
        }


Agent = str | PythonPolicy | OnnxPolicy


def check_agents(where: str, agents: object) -> dict[str, Agent]:
    """``{agent_id: "human" | "random" | PythonPolicy | OnnxPolicy}`` keyed by ``str(agent_id)``.

    Agent ids are the environment's (``possible_agents``; any one id for a single-agent env);
    they travel as text, like every JSON key. Several ``"human"`` agents make a group game
    (one participant each; GymScene checks the rest).
    """
    if not isinstance(agents, Mapping) or not agents:
        raise StudyError(
            where,
            f"agents must be a non-empty dict of agent id to who plays it, got {describe(agents)}",
            'e.g. agents={0: "human", 1: PythonPolicy("policies/partner.py")}',
        )
    checked: dict[str, Agent] = {}
    for agent_id, agent in agents.items():
        field = f"agents[{agent_id!r}]"
        if not isinstance(agent_id, str | int) or isinstance(agent_id, bool):
            raise StudyError(where, f"{field}: agent ids are strings or whole numbers")
        if isinstance(agent, str) and agent not in AGENT_WORDS:
            raise StudyError(
                where,
                f"{field} is {agent!r}, not a kind of agent",
                'use "human", "random", PythonPolicy(file) or OnnxPolicy(model_file)',
            )
        if not isinstance(agent, str | PythonPolicy | OnnxPolicy):
            raise StudyError(
                where,
                f"{field} is {describe(agent)}, not an agent",
                'use "human", "random", PythonPolicy(file) or OnnxPolicy(model_file)',
            )
        if str(agent_id) in checked:
            raise StudyError(where, f"{field}: agent id {str(agent_id)!r} is listed twice")
        checked[str(agent_id)] = agent
    return checked


def load_agents(
    where: str, agents: Mapping[str, Agent], base_dir: Path, ids: Mapping[str, object]
) -> None:
    """Read every policy's file (Python source, ONNX model); ``ids``: the ids as written."""
    for agent_id, agent in agents.items():
        if isinstance(agent, PythonPolicy | OnnxPolicy):
            agent.load(base_dir, f"{where}.agents[{ids.get(agent_id, agent_id)!r}]")


def agents_to_client(agents: Mapping[str, Agent], seed: int, scene_id: str) -> dict[str, Any]:
    """Each agent's description for the browser's worker."""
    out: dict[str, Any] = {}
    for agent_id, agent in agents.items():
        if isinstance(agent, PythonPolicy):
            out[agent_id] = agent.to_client()
        elif isinstance(agent, OnnxPolicy):
            out[agent_id] = agent.to_client(derive_seed(seed, scene_id, "onnx", agent_id))
        else:
            out[agent_id] = {"kind": agent}
    return out
