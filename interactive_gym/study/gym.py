"""GymScene: a Gymnasium-style environment played by the participant.

With ``runtime="browser"`` (the default) the environment (a Python file defining ``env`` or
``make_env(**config)``) runs in Pyodide in a Web Worker, loaded while earlier scenes are shown.
The page ticks at ``fps``: each tick sends the keys' action, and the worker answers with the
step, the AI agents' actions, the drawing and the HUD text in one reply. Every step and every
episode summary is recorded by the page (see docs/game.md).

With ``runtime="server"`` the environment runs in the server's env processes, the server's
clock steps it with the latest key input and streams the frames over the study socket, and
the server writes the step and episode records itself (see docs/server-runtime.md).

Browser side: ``static/js/study/scenes/gym.js`` and ``static/js/game/``; worker side:
``interactive_gym/runtime/``; server runtime: ``server/server_games.py``; where the
environment comes from: ``gym_env.py``.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from interactive_gym.runtime.game_host import MAX_STATE_HASH_EVERY
from interactive_gym.study.errors import ResponseError, StudyError
from interactive_gym.study.gym_agents import (
    agents_to_client,
    check_agents,
    compile_source,
    load_agents,
    top_level_names,
)
from interactive_gym.study.gym_controls import (
    INPUT_MODES,
    check_action,
    check_controls,
    check_hud,
)
from interactive_gym.study.gym_env import FRAME_FORMATS, EnvSource
from interactive_gym.study.gym_group import (
    MemberLeave,
    check_group_ended,
    check_group_options,
    merge_stand_ins,
)
from interactive_gym.study.gym_netcode import check_netcode_options
from interactive_gym.study.onnx_policy import OnnxPolicy
from interactive_gym.study.options import (
    check_bool,
    check_file,
    check_int,
    check_number,
    check_str,
    check_str_list,
    describe,
)
from interactive_gym.study.scene import SCENE_MODULES, ParticipantContext, Scene, StoredScene
from interactive_gym.study.seeds import SEED_BITS, derive_seed
from interactive_gym.study.served_file import ServedFile
from interactive_gym.study.waiting_room import StandIn

WHEN_HIDDEN = ("pause", "continue")
DEFAULT_HUD = "Episode {episode} of {episodes} \u00b7 Score {score}"
MAX_FPS = 120
RESPONSE_STATUSES = ("completed", "error")
#: Events that show a game ended by a genuine error (recorded by the browser module).
ERROR_EVENTS = frozenset({"game_error", "game_load_error"})
#: How an episode that was played to its end finishes (``ended_by`` of its summary).
PLAYED_TO_THE_END = frozenset({"terminated", "truncated", "max_steps"})


def ended_by(last: Mapping[str, Any] | None) -> str:
    """``ended_by`` of an episode from its last tick's reply, as ``game/episode.js`` and the
    server's game clock decide it ("stopped" when no tick ended it)."""
    if last is None:
        return "stopped"
    if last.get("terminated"):
        return "terminated"
    if last.get("maxStepsReached"):
        return "max_steps"
    return "truncated" if last.get("truncated") else "stopped"


#: What the page uploads for a game it runs itself, and for a game the server runs.
BROWSER_RECORD_KINDS = frozenset({"step", "episode", "event"})
SERVER_RECORD_KINDS = frozenset({"event", "input"})


def declared_num_actions(source: str) -> int | None:
    """``N`` when the env source sets ``num_actions = N`` (a number) exactly once."""
    found = {
        node.value.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "num_actions" for t in node.targets)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, int)
    }
    return found.pop() if len(found) == 1 else None


class GymScene(Scene):
    """A game: an environment, who plays each agent, keys, frame rate, episodes, HUD.

    Args:
        runtime: ``"browser"`` (the env runs in the participant's browser) or ``"server"``
            (it runs on the server, which streams the frames; see docs/server-runtime.md).
        env_file: Python source defining ``env`` or ``make_env(**config)`` (relative to the
            study file's folder).
        env_module: instead of ``env_file``, a module of one of ``packages`` defining them.
        env_id: (server runtime) a registered Gymnasium id, made with
            ``render_mode="rgb_array"`` and ``env_config`` as keyword arguments.
        env_factory: (server runtime) ``"package.module:callable"`` returning the env,
            called with ``env_config`` as keyword arguments.
        env_config: keyword arguments of ``make_env`` (JSON values).
        packages: pure-Python packages to install from the server's wheelhouse.
        agents: ``{agent_id: "human" | "random" | PythonPolicy(...) | OnnxPolicy(...)}``.
        controls: ``{"ArrowUp": 1, "ArrowUp+ArrowLeft": 5, ...}`` for the human agent (each
            member's own agent in a group game: 2+ human agents).
        default_action: the human agent's action while no mapped key is down.
        input_mode: ``"held"`` (keys held at the tick) or ``"pressed"`` (key presses since
            the last tick only).
        fps: ticks per second (1 to 120).
        episodes: how many episodes to play.
        max_steps: end an episode (truncated) after this many steps; None: the env decides.
        seeds: one seed per episode; default: derived from the participant's seed.
        num_actions: the number of discrete actions when the env has no ``num_actions``.
        hud: text above the game, with ``{episode}``, ``{episodes}``, ``{step}``,
            ``{max_steps}``, ``{score}``, ``{time_left}`` and ``{env}``; None: no HUD.
        hud_function: a function ``f(env) -> str`` in the env's source; its text is ``{env}``.
        countdown_s: seconds of countdown before each episode (0: none).
        pause_after_episode_s: seconds the end-of-episode message stays (0: none).
        when_hidden: ``"pause"`` or ``"continue"`` (with the no-key action) when the tab is hidden.
        record_observations: add each step's observation to its record.
        record_state_hash_every: K (1 to 10000): record ``state_hash``, the hash of the env's
            ``get_state()`` after the step, on every K-th step and on each episode's last step
            (the env must implement ``get_state()``); None: no hashes. Not for a group game in
            the browser, whose netcode records state hashes already (``hash_every_frames``).
        title, intro: heading and HTML shown above the game.
        canvas_size: ``(width, height)`` in pixels; default: the env's ``render_size``.
        background: canvas colour.
        load_timeout_s: how long loading may take before the participant sees an error.
        step_timeout_s: how long one tick may take in the worker before it counts as failed.
        reconnect_s: (server runtime) how long a game waits, paused, for a participant whose
            connection dropped before the episode ends as ``"disconnected"`` (or, in a group
            game, before ``on_member_leave`` applies); default 30 s alone, 20 s in a group.
        when_member_away: (group game) while a member is away: ``"pause"`` the game, or
            play their agent's ``"default_action"``.
        on_member_leave: (group game) when a member stays away past ``reconnect_s``:
            ``"end"`` the game for the group, ``StandIn({...})`` (an AI plays their agent) or
            ``EndScene(...)`` (the remaining members' study ends there).
        frame_format, frame_quality: (server runtime) how image frames are encoded
            (``"jpeg"``, ``"webp"`` or ``"png"``; quality 1 to 100 for the lossy ones).
        netcode: (group game in the browser) ``"rollback"`` (default: each member's worker
            predicts the others' inputs and rolls back when they differ; the env needs
            ``get_state``/``set_state``) or ``"lockstep"`` (every frame waits for every input).
        input_delay_frames: (group game in the browser) frames between a key press and the
            frame it acts on (0 to 10, default 2); hides that much of the network's delay.
        max_prediction_frames: (rollback) how far a page may run ahead of the inputs it has
            (1 to 30, default 8); past it, it waits.
        hash_every_frames: (group game in the browser) how often the members compare their
            state hashes (every 1 to 120 frames, default 5); see docs/netcode.md.
    """

    scene_type = "gym"
    client_module = SCENE_MODULES + "gym.js"
    checks_stored_records = True

    @property
    def record_kinds(self) -> frozenset[str]:  # type: ignore[override]
        """What the page uploads: a browser game's steps, episodes and events; a server game's
        or a group game's inputs and events only (the server writes its steps and episodes)."""
        if self.runtime == "server" or self.is_group:
            return SERVER_RECORD_KINDS
        return BROWSER_RECORD_KINDS

    def __init__(
        self,
        scene_id: str,
        *,
        runtime: str = "browser",
        env_file: str | Path | None = None,
        env_module: str | None = None,
        env_id: str | None = None,
        env_factory: str | None = None,
        env_config: Mapping[str, Any] | None = None,
        packages: Sequence[str] = (),
        agents: Mapping[str | int, Any] | None = None,
        controls: Mapping[str, Any] | None = None,
        default_action: Any = 0,
        input_mode: str = "held",
        fps: int = 30,
        episodes: int = 1,
        max_steps: int | None = None,
        seeds: Sequence[int] | None = None,
        num_actions: int | None = None,
        hud: str | None = DEFAULT_HUD,
        hud_function: str | None = None,
        countdown_s: int = 3,
        pause_after_episode_s: float = 2.0,
        when_hidden: str = "pause",
        record_observations: bool = False,
        record_state_hash_every: int | None = None,
        title: str | None = None,
        intro: str | None = None,
        canvas_size: tuple[int, int] | None = None,
        background: str = "#000000",
        load_timeout_s: float = 180.0,
        step_timeout_s: float = 5.0,
        reconnect_s: float | None = None,
        frame_format: str = "jpeg",
        frame_quality: int = 80,
        when_member_away: str = "pause",
        on_member_leave: MemberLeave = "end",
        netcode: str | None = None,
        input_delay_frames: int | None = None,
        max_prediction_frames: int | None = None,
        hash_every_frames: int | None = None,
        **unknown: object,
    ) -> None:
        super().__init__(scene_id, unknown)
        w = self.where
        self.env_source = EnvSource.check(
            w,
            runtime,
            env_file=env_file,
            env_module=env_module,
            env_id=env_id,
            env_factory=env_factory,
        )
        self.runtime = runtime
        self.env_file = env_file
        self.env_module = env_module
        self.env_id = env_id
        self.env_factory = env_factory
        self.env_config = self._json_dict("env_config", env_config)
        self.packages = check_str_list(w, "packages", list(packages), min_len=0)
        self.num_actions = check_int(w, "num_actions", num_actions, minimum=1, optional=True)
        self.agents = check_agents(w, agents)
        onnx = [k for k, a in self.agents.items() if isinstance(a, OnnxPolicy)]
        if runtime == "server" and onnx:
            raise StudyError(
                w,
                f"agents[{onnx[0]!r}] is an OnnxPolicy, which runs in the browser only",
                'use runtime="browser", or a PythonPolicy for this agent',
            )
        self.agent_ids = {str(k): k for k in agents or {}}
        self.humans = [k for k, a in self.agents.items() if a == "human"]
        self.human = self.humans[0] if self.humans else None
        self.is_group = len(self.humans) >= 2
        group = check_group_options(w, self.humans, when_member_away, on_member_leave, reconnect_s)
        self.when_member_away, self.on_member_leave, self.reconnect_s = group
        self.net = check_netcode_options(
            w,
            runtime,
            self.humans,
            self.agents,
            netcode=netcode,
            input_delay_frames=input_delay_frames,
            max_prediction_frames=max_prediction_frames,
            hash_every_frames=hash_every_frames,
        )
        self.netcode = self.net.netcode
        self.controls = check_controls(w, controls or {}, num_actions)
        if self.human is not None and not self.controls:
            raise StudyError(
                w,
                f"agent {self.human!r} is human but controls is empty",
                'map keys to actions, e.g. controls={"ArrowLeft": 0, "ArrowRight": 1}',
            )
        self.default_action = check_action(w, "default_action", default_action, num_actions)
        if input_mode not in INPUT_MODES:
            raise StudyError(
                w, f"input_mode must be 'held' or 'pressed', got {describe(input_mode)}"
            )
        self.input_mode = input_mode
        self.fps: int = check_int(w, "fps", fps, minimum=1, maximum=MAX_FPS)
        self.episodes: int = check_int(w, "episodes", episodes, minimum=1, maximum=10000)
        self.max_steps = check_int(w, "max_steps", max_steps, minimum=1, optional=True)
        self.seeds = self._seeds(seeds)
        self.hud = check_hud(w, hud)
        self.hud_function = check_str(w, "hud_function", hud_function, optional=True)
        self.countdown_s = check_int(w, "countdown_s", countdown_s, minimum=0, maximum=10)
        self.pause_after_episode_s = self._seconds(
            "pause_after_episode_s", pause_after_episode_s, 0, 60
        )
        if when_hidden not in WHEN_HIDDEN:
            raise StudyError(
                w, f"when_hidden must be 'pause' or 'continue', got {describe(when_hidden)}"
            )
        self.when_hidden = when_hidden
        self.record_observations = check_bool(w, "record_observations", record_observations)
        self.record_state_hash_every = self._state_hash_every(record_state_hash_every)
        self.title = check_str(w, "title", title, optional=True)
        self.intro = check_str(w, "intro", intro, optional=True)
        self.canvas_size = self._canvas_size(canvas_size)
        self.background = check_str(w, "background", background)
        self.load_timeout_s = self._seconds("load_timeout_s", load_timeout_s, 5, 3600)
        #: Whether the browser restores Python from a memory snapshot (set by the Experiment
        #: from ``Experiment(python_snapshots=...)``).
        self.python_snapshots = True
        self.step_timeout_s = self._seconds("step_timeout_s", step_timeout_s, 0.1, 600)
        if frame_format not in FRAME_FORMATS:
            raise StudyError(
                w,
                f"frame_format must be one of {', '.join(FRAME_FORMATS)}, "
                f"got {describe(frame_format)}",
            )
        self.frame_format = frame_format
        self.frame_quality: int = check_int(
            w, "frame_quality", frame_quality, minimum=1, maximum=100
        )
        self.env_code: str | None = None

    # checks -------------------------------------------------------------------------------

    def _json_dict(self, field: str, value: object) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise StudyError(
                self.where, f"{field} must be a dict with text keys, got {describe(value)}"
            )
        try:
            json.dumps(dict(value), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise StudyError(self.where, f"{field} must hold JSON values only: {error}") from None
        return dict(value)

    def _seconds(self, field: str, value: object, low: float, high: float) -> float:
        number = float(check_number(self.where, field, value))
        if not low <= number <= high:
            raise StudyError(self.where, f"{field} must be between {low} and {high}, got {value}")
        return number

    def _state_hash_every(self, every: object) -> int | None:
        checked = check_int(
            self.where,
            "record_state_hash_every",
            every,
            minimum=1,
            maximum=MAX_STATE_HASH_EVERY,
            optional=True,
        )
        if checked is not None and self.netcode is not None:
            raise StudyError(
                self.where,
                "record_state_hash_every: a group game in the browser records state hashes "
                f"already (the whole game's state, every hash_every_frames = "
                f"{self.net.hash_every_frames} frames, in the group's step rows)",
                "leave record_state_hash_every out; set hash_every_frames to change how often",
            )
        return checked

    def _seeds(self, seeds: object) -> list[int] | None:
        if seeds is None:
            return None
        if not isinstance(seeds, list | tuple) or len(seeds) != self.episodes:
            raise StudyError(
                self.where,
                f"seeds must be a list of {self.episodes} seeds (one per episode), "
                f"got {describe(seeds)}",
                "give one seed per episode, or leave seeds out to derive them per participant",
            )
        for i, seed in enumerate(seeds):
            check_int(self.where, f"seeds[{i}]", seed, minimum=0, maximum=2**SEED_BITS - 1)
        return list(seeds)

    def _canvas_size(self, size: object) -> list[int] | None:
        if size is None:
            return None
        if (
            not isinstance(size, list | tuple)
            or len(size) != 2
            or not all(
                isinstance(v, int) and not isinstance(v, bool) and 16 <= v <= 4096 for v in size
            )
        ):
            raise StudyError(
                self.where, f"canvas_size must be (width, height) in pixels, got {describe(size)}"
            )
        return list(size)

    # loading ------------------------------------------------------------------------------

    def load_files(self, base_dir: Path) -> None:
        if self.env_file is not None:
            path = check_file(self.where, "env_file", self.env_file, base_dir)
            self.env_code = compile_source(self.where, "env_file", path)
            self.env_source.code = self.env_code
            names = top_level_names(self.env_code)
            if "env" not in names and "make_env" not in names:
                raise StudyError(
                    self.where,
                    f"env_file {path.name} defines neither env nor make_env(**config)",
                    "define make_env(**config) returning the environment",
                )
            if self.hud_function and self.hud_function not in names:
                raise StudyError(
                    self.where,
                    f"hud_function {self.hud_function!r}: {path.name} defines no such function",
                    "define it in the env file: def hud(env): return f'...'",
                )
            if self.num_actions is None:
                self.num_actions = declared_num_actions(self.env_code)
                self._check_actions("num_actions = {n} in " + path.name)
        load_agents(self.where, self.agents, base_dir, self.agent_ids)
        if isinstance(self.on_member_leave, StandIn):
            self.on_member_leave.load(base_dir, f"{self.where}.on_member_leave")

    def _check_actions(self, source: str) -> None:
        """Check the controls and default action against the number of actions now known."""
        n = self.num_actions
        if n is None:
            return
        for entry in self.controls:
            field = f"controls[{'+'.join(entry['keys'])!r}]"
            action = entry["action"]
            if not isinstance(action, int) or isinstance(action, bool) or not 0 <= action < n:
                raise StudyError(
                    self.where,
                    f"{field} is action {action!r}, but the environment has {n} actions "
                    f"(0 to {n - 1}; {source.format(n=n)})",
                    "map keys to valid actions",
                )
        check_action(self.where, "default_action", self.default_action, n)

    def served_files(self) -> list[ServedFile]:
        """The ONNX models of the scene's agents, served to the browser by URL."""
        return [
            f for a in self.agents.values() if isinstance(a, OnnxPolicy) for f in a.served_files()
        ]

    # to the browser and back --------------------------------------------------------------

    def episode_seeds(self, ctx: ParticipantContext) -> list[int]:
        """One seed per episode: the fixed ``seeds``, or derived from the participant's seed."""
        if self.seeds is not None:
            return list(self.seeds)
        return [derive_seed(ctx.seed, self.scene_id, "episode", i) for i in range(self.episodes)]

    def actions_used(self) -> dict[str, Any]:
        """The actions the controls produce, named as in the study file (checked by the game)."""
        used: dict[str, Any] = {
            f"controls[{json.dumps('+'.join(c['keys']))}]": c["action"] for c in self.controls
        }
        if self.human is not None:
            used["default_action"] = self.default_action
        return used

    def game_spec(
        self, ctx: ParticipantContext, stand_ins: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """What the server's env pool builds the game from (the page's ``setupGame`` fields).

        ``stand_ins``: specs of AI policies for human agents (the waiting room's, for a group
        short of members), added to those of the scene's ``on_member_leave`` StandIn.
        """
        self._require_code()
        return {
            "env": self.env_source.spec(self.env_config),
            "packages": list(self.packages),
            "agents": agents_to_client(self.agents, ctx.seed, self.scene_id),
            "hud_function": self.hud_function,
            "max_steps": self.max_steps,
            "num_actions": self.num_actions,
            "actions_used": self.actions_used(),
            "record_observations": self.record_observations,
            "state_hash_every": self.record_state_hash_every,
            "frame": {"format": self.frame_format, "quality": self.frame_quality},
            "stand_ins": merge_stand_ins(self.on_member_leave, stand_ins, ctx.seed, self.scene_id),
        }

    def _require_code(self) -> None:
        if self.env_file is not None and self.env_code is None:
            raise StudyError(
                self.where, "env_file was not read", "load the study through Experiment"
            )

    def client_options(self, ctx: ParticipantContext) -> dict[str, Any]:
        self._require_code()
        if self.runtime == "server":
            # The env runs on the server: the page gets no env code and no policy code.
            where_env: dict[str, Any] = {
                "runtime": "server",
                "reconnect_s": self.reconnect_s,
                "frame_format": self.frame_format,
                "agents": {k: {"kind": _kind(a)} for k, a in self.agents.items()},
            }
        else:
            where_env = {
                "runtime": "browser",
                "env": {
                    "code": self.env_code,
                    "module": self.env_module,
                    "filename": self.env_source.filename,
                    "config": self.env_config,
                },
                "packages": self.packages,
                "python_snapshots": self.python_snapshots,
                "agents": agents_to_client(self.agents, ctx.seed, self.scene_id),
                **self.net.to_client(),
                **({"reconnect_s": self.reconnect_s} if self.is_group else {}),
            }
        return {
            "title": self.title,
            "intro": self.intro,
            **where_env,
            "human": self.human,
            "humans": self.humans,
            "group": self.is_group,
            "when_member_away": self.when_member_away,
            "controls": self.controls,
            "default_action": self.default_action,
            "input_mode": self.input_mode,
            "fps": self.fps,
            "episodes": self.episodes,
            "max_steps": self.max_steps,
            "seeds": self.episode_seeds(ctx),
            "num_actions": self.num_actions,
            "hud": self.hud,
            "hud_function": self.hud_function,
            "countdown_s": self.countdown_s,
            "pause_after_episode_s": self.pause_after_episode_s,
            "when_hidden": self.when_hidden,
            "record_observations": self.record_observations,
            "record_state_hash_every": self.record_state_hash_every,
            "canvas_size": self.canvas_size,
            "background": self.background,
            "load_timeout_s": self.load_timeout_s,
            "step_timeout_s": self.step_timeout_s,
        }

    def validate_response(self, response: object, ctx: ParticipantContext) -> dict[str, Any]:
        """``{"status": "completed" | "error", "episodes": n, "error": text | None}``; a group
        game may also end with ``"group_ended"`` (a member left)."""
        statuses = RESPONSE_STATUSES + (("group_ended",) if self.is_group else ())
        if not isinstance(response, dict) or response.get("status") not in statuses:
            raise ResponseError("status", f"a game scene ends with status {' or '.join(statuses)}")
        episodes = response.get("episodes")
        if (
            not isinstance(episodes, int)
            or isinstance(episodes, bool)
            or not 0 <= episodes <= self.episodes
        ):
            raise ResponseError(
                "episodes", f"episodes must be a whole number from 0 to {self.episodes}"
            )
        if response["status"] == "completed" and episodes != self.episodes:
            raise ResponseError(
                "episodes", f"a completed game has played all {self.episodes} episodes"
            )
        error = response.get("error")
        if error is not None and not isinstance(error, str):
            raise ResponseError("error", "error must be a text or null")
        if set(response) - {"status", "episodes", "error"}:
            raise ResponseError("", "a game scene sends only status, episodes and error")
        return {"status": response["status"], "episodes": episodes, "error": error}

    def check_record(self, kind: str, episode: int | None, step: int | None) -> str | None:
        """Steps, episode summaries and key inputs only of the scene's episodes (and steps
        within max_steps)."""
        if kind in ("step", "episode", "input") and episode is not None:
            if episode >= self.episodes:
                return f"episode {episode}: this game has {self.episodes} episode(s)"
        if kind == "input" and episode is None:
            return "an input record needs the episode it was made in"
        if kind in ("step", "input") and step is not None and self.max_steps is not None:
            if step >= self.max_steps:
                return f"step {step}: episodes of this game end after {self.max_steps} steps"
        return None

    def check_done(self, response: dict[str, Any], stored: StoredScene) -> None:
        """A completed game has every episode stored whole; a failed one, its error event; one
        ended by a member leaving, the ``member_left`` event."""
        if response["status"] == "group_ended":
            return check_group_ended(stored)
        if response["status"] == "error":
            if not stored.event_types & ERROR_EVENTS:
                raise ResponseError(
                    "status", "the game ended with an error, but no error was recorded"
                )
            return
        for episode in range(self.episodes):
            runs = [e for e in stored.episodes if e.episode == episode]
            if not any(_played_whole(e) for e in runs):
                detail = "no records" if not runs else _what_is_missing(runs[-1])
                raise ResponseError(
                    "episodes", f"episode {episode} was not played to its end ({detail})"
                )

    def response_records(self, response: dict[str, Any]) -> list[dict[str, Any]]:
        """How the game ended, as the server accepted it (a ``game_end`` event)."""
        return [{"kind": "event", "data": {"type": "game_end", **response}}]


def _kind(agent: object) -> str:
    """An agent's kind as the page knows it ("human", "random", "python")."""
    return agent if isinstance(agent, str) else "python"


def _played_whole(e: Any) -> bool:
    """One run of an episode stored whole: its summary, and every step it counts."""
    summary = e.summary
    if not summary or summary.get("ended_by") not in PLAYED_TO_THE_END:
        return False
    length = summary.get("length")
    if not isinstance(length, int) or isinstance(length, bool) or e.last_step is None:
        return False
    return length >= 1 and e.steps == length == e.last_step + 1


def _what_is_missing(e: Any) -> str:
    if not e.summary:
        return f"attempt {e.attempt}: {e.steps} step(s) stored and no episode summary"
    ended = e.summary.get("ended_by")
    if ended not in PLAYED_TO_THE_END:
        return f"attempt {e.attempt}: ended by {ended!r}"
    return f"attempt {e.attempt}: {e.steps} step(s) stored of {e.summary.get('length')!r}"
