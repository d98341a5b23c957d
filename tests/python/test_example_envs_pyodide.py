"""The example envs run in real Pyodide (Node) and match CPython bit for bit.

The same driver code plays fixed action sequences in this interpreter and in Pyodide; the
JSON of every step result, state and draw list must be identical, so a participant's browser
and any re-simulation on the server agree exactly.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

from interactive_gym.examples.envs import cartpole, kitchen, physics_duel

ROOT = Path(__file__).resolve().parents[2]
PYODIDE = ROOT / "node_modules" / "pyodide" / "pyodide.mjs"

DRIVER = """
import json

def trajectory(source, seed, actions):
    namespace = {"__name__": "example_env"}
    exec(compile(source, "example_env.py", "exec"), namespace)
    env = namespace["make_env"]()
    out = [env.reset(seed=seed), env.render()]
    for action in actions:
        result = env.step(action)
        out += [result, env.render()]
        terminated, truncated = result[2], result[3]
        if isinstance(terminated, dict):
            terminated, truncated = terminated["__all__"], truncated["__all__"]
        if terminated or truncated:
            break
    out.append(env.get_state())
    return json.dumps(out, default=str)
"""

NODE_SCRIPT = """
import { readFileSync } from "node:fs";
const { loadPyodide } = await import(process.argv[1]);
const input = JSON.parse(readFileSync(0, "utf8"));
const pyodide = await loadPyodide();
pyodide.runPython(input.driver);
const trajectory = pyodide.globals.get("trajectory");
const out = {};
for (const [name, run] of Object.entries(input.runs)) {
  const actions = pyodide.toPy(run.actions);
  out[name] = trajectory(run.source, run.seed, actions);
  actions.destroy();
}
process.stdout.write(JSON.stringify(out));
"""


def _runs() -> dict[str, dict]:
    rng = random.Random(42)
    runs = {}
    for module, n in ((physics_duel, 9), (kitchen, 6)):
        actions = [{0: rng.randrange(n), 1: rng.randrange(n)} for _ in range(1500)]
        runs[module.__name__] = {
            "source": Path(module.__file__).read_text(),
            "seed": 7,
            "actions": actions,
        }
    runs["cartpole"] = {
        "source": Path(cartpole.__file__).read_text(),
        "seed": 7,
        "actions": [rng.randrange(2) for _ in range(200)],
    }
    return runs


def test_pyodide_and_cpython_trajectories_are_identical() -> None:
    node = shutil.which("node")
    assert node, "node is needed to run Pyodide"
    assert PYODIDE.exists(), f"{PYODIDE} missing: run npm ci"
    runs = _runs()
    namespace: dict = {}
    exec(DRIVER, namespace)
    # JSON turns int agent keys into strings; the envs accept both, and Pyodide sees the same
    actions_as_sent = {name: json.loads(json.dumps(run["actions"])) for name, run in runs.items()}
    expected = {
        name: namespace["trajectory"](run["source"], run["seed"], actions_as_sent[name])
        for name, run in runs.items()
    }
    result = subprocess.run(
        [node, "--input-type=module", "-e", NODE_SCRIPT, PYODIDE.as_uri()],
        input=json.dumps({"driver": DRIVER, "runs": runs}),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    got = json.loads(result.stdout)
    for name in runs:
        assert len(expected[name]) > 10_000, name  # a real episode was played
        assert got[name] == expected[name], name
