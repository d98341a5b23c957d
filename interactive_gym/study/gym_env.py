"""Where a game scene's environment comes from, and where it runs.

A :class:`~interactive_gym.study.gym.GymScene` names its environment in exactly one of four
ways: ``env_file`` (Python source defining ``env`` or ``make_env(**config)``), ``env_module``
(a module of an installed package defining them), ``env_id`` (a registered Gymnasium id,
built with ``gymnasium.make(env_id, render_mode="rgb_array", **env_config)``) or
``env_factory`` (``"package.module:callable"``, called as ``callable(**env_config)``). The
browser runtime runs the first two in Pyodide; the server runtime (``runtime="server"``,
``interactive_gym.server.server_games``) runs any of them in the server's env processes
(``interactive_gym.server.env_pool``) and streams frames to the page.

The other half: ``gym.py`` holds the scene itself; ``interactive_gym.runtime.env_host`` builds
the environment from the spec :meth:`EnvSource.spec` gives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interactive_gym.study.errors import StudyError
from interactive_gym.study.options import describe

RUNTIMES = ("browser", "server")
FRAME_FORMATS = ("jpeg", "webp", "png")
#: The fields that name an environment, in the order error messages list them.
SOURCE_FIELDS = ("env_file", "env_module", "env_id", "env_factory")
#: Only the server runtime can build these (Gymnasium's registry, installed packages).
SERVER_ONLY = frozenset({"env_id", "env_factory"})
_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass
class EnvSource:
    """The one field that names the environment, checked (``code`` once ``env_file`` is read)."""

    field: str
    value: Any
    code: str | None = None

    @classmethod
    def check(cls, where: str, runtime: object, **given: Any) -> EnvSource:
        """The single env source among ``given`` (``env_file=...`` etc.) for ``runtime``."""
        if runtime not in RUNTIMES:
            raise StudyError(
                where, f"runtime must be 'browser' or 'server', got {describe(runtime)}"
            )
        named = [f for f in SOURCE_FIELDS if given.get(f) is not None]
        allowed = SOURCE_FIELDS if runtime == "server" else ("env_file", "env_module")
        if len(named) != 1:
            listed = " or ".join(f"{f}=..." for f in allowed)
            problem = f"give the environment as {listed}, " + (
                f"not both ({' and '.join(named)})" if named else "neither was given"
            )
            raise StudyError(where, problem, 'e.g. env_file="envs/my_env.py"')
        field = named[0]
        value = given[field]
        if field in SERVER_ONLY and runtime != "server":
            raise StudyError(
                where,
                f"{field} needs runtime='server' (the browser runs env_file or env_module)",
                f'add runtime="server", or give env_file=... instead of {field}',
            )
        if field == "env_file":
            if not isinstance(value, str | Path) or not str(value):
                raise StudyError(where, f"env_file must be a file path, got {describe(value)}")
        elif not isinstance(value, str) or not value.strip():
            raise StudyError(where, f"{field} must be a non-empty string, got {describe(value)}")
        if field == "env_factory" and not _FACTORY.match(value):
            raise StudyError(
                where,
                f"env_factory {value!r} is not 'package.module:callable'",
                'e.g. env_factory="my_envs.grid:make_env"',
            )
        return cls(field, value)

    @property
    def filename(self) -> str | None:
        return Path(self.value).name if self.field == "env_file" else None

    def describe(self) -> str:
        """How messages name it: ``env_id 'CartPole-v1'``."""
        shown = self.filename if self.field == "env_file" else self.value
        return f"{self.field} {shown!r}"

    def spec(self, config: dict[str, Any]) -> dict[str, Any]:
        """What ``EnvHost.init_env`` takes: ``{code|module|env_id|factory, config, filename}``."""
        key = {"env_file": "code", "env_module": "module", "env_id": "env_id"}.get(
            self.field, "factory"
        )
        value = self.code if self.field == "env_file" else self.value
        return {key: value, "config": dict(config), "filename": self.filename}
