"""The runtime: the Python that hosts an environment and plays a game scene on it.

The same source runs in two places. In the browser, the Pyodide worker receives these files
(served by ``server/app.py`` under ``/runtime/``) and calls :func:`handler.handle` per request;
on the server, the env worker processes (``server/env_pool.py``) import the package and drive a
:class:`~interactive_gym.runtime.game_host.GameHost` directly.

- ``contract.py``: the environment contract (``Env``, ``Renderable``, ``Snapshottable``).
- ``plain.py``: conversion of what an environment returns to plain data.
- ``env_host.py``: one environment, created from source, a module, a Gymnasium id or a factory.
- ``hashing.py``: canonical JSON, its digest, and the hash of an env's state.
- ``game_host.py``: a game scene's agents, episodes and ticks on an env host.
- ``net_state.py``: a game's saved state (snapshot) and its hash.
- ``net_check.py``: the load-time determinism check of an env for netcode.
- ``netcode.py``: rollback netcode of a browser group game (the worker's ``net*`` operations).
- ``handler.py``: the worker's entry point, one operation in, one plain reply out.

Nothing here imports Pyodide or anything outside the standard library at import time.
"""

#: The package's files, in the order the worker writes them (served to Pyodide).
FILES = (
    "__init__.py",
    "plain.py",
    "contract.py",
    "env_host.py",
    "hashing.py",
    "game_host.py",
    "net_state.py",
    "net_check.py",
    "netcode.py",
    "handler.py",
)
