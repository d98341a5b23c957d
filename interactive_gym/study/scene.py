"""The shape every scene type shares, and the registry of scene types.

A scene type is one Python subclass of :class:`Scene` plus one browser ES module. The class
describes the scene to the browser (:meth:`Scene.to_client`), says which records the browser
may upload for it (:attr:`Scene.record_kinds`, :meth:`Scene.check_record`), checks what the
browser sends back when the participant finishes it (:meth:`Scene.validate_response`) and
whether the scene is really done (:meth:`Scene.check_done`), and names the records the server
stores itself from the checked response (:meth:`Scene.response_records`). The module, at
``client_module``, exports ``run(scene, ctx)`` (and optionally ``bot`` and ``preload``); see
``static/js/study/scene_api.js`` for the browser half of the contract.

Defining a subclass with a ``scene_type`` registers it; nothing else needs to change for the
server to serve it or for the page to load its module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from interactive_gym.study.errors import ResponseError, StudyError
from interactive_gym.study.options import check_id, keyword_options, reject_unknown

#: Where the browser modules of the built-in scene types are served.
SCENE_MODULES = "/static/js/study/scenes/"

#: scene_type -> Scene subclass, filled as subclasses are defined.
SCENE_TYPES: dict[str, type[Scene]] = {}


@dataclass(frozen=True)
class ParticipantContext:
    """What a scene may know about the participant it is shown to.

    Attributes:
        participant_id: the participant's id (from the URL or generated).
        experiment_id: the experiment's id.
        seed: the participant's seed, derived from the experiment seed and participant id;
            scenes derive their own seeds from it with ``derive_seed(seed, scene_id, ...)``.
        condition: the between-subject condition, or None when the study has none.
        url_params: every URL parameter the participant arrived with.
    """

    participant_id: str
    experiment_id: str
    seed: int
    condition: str | None = None
    url_params: Mapping[str, str] = field(default_factory=dict)


class StoredEpisode(Protocol):
    """What the database holds of one run of one episode (``interactive_gym.data``)."""

    @property
    def episode(self) -> int: ...
    @property
    def attempt(self) -> int: ...
    @property
    def steps(self) -> int:
        """Step records stored."""

    @property
    def last_step(self) -> int | None:
        """The highest step number stored (None: no steps)."""

    @property
    def summary(self) -> Mapping[str, Any] | None:
        """The ``data`` of the episode's summary record (None: none stored)."""


@dataclass(frozen=True)
class StoredScene:
    """What the database holds of a participant's scene, for :meth:`Scene.check_done`."""

    episodes: Sequence[StoredEpisode] = ()
    event_types: frozenset[str] = frozenset()


class Scene:
    """One step of a study, shown to the participant by the browser module of its type.

    Subclasses set ``scene_type`` and ``client_module``, take their options as keyword-only
    constructor arguments followed by ``**unknown`` (passed to ``Scene.__init__`` so a misspelt
    option fails with a suggestion), and override :meth:`client_options` and, when the browser
    sends something back, :meth:`validate_response`.
    """

    #: The name the browser and the data use for this type ("static", "survey", …).
    scene_type: ClassVar[str] = ""
    #: URL of the browser module implementing this type.
    client_module: ClassVar[str] = ""
    #: Record kinds the browser module may upload for a scene of this type (a scene may set
    #: its own: a game the server runs uploads no steps).
    record_kinds: frozenset[str] = frozenset({"event"})
    #: Whether :meth:`check_done` looks at the scene's stored records.
    checks_stored_records: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        scene_type = cls.__dict__.get("scene_type")
        if not scene_type:
            return
        existing = SCENE_TYPES.get(scene_type)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise StudyError(
                cls.__name__,
                f"scene type {scene_type!r} is already registered by {existing.__name__}",
                "choose another scene_type",
            )
        SCENE_TYPES[scene_type] = cls

    def __init__(self, scene_id: str, unknown: Mapping[str, object] | None = None) -> None:
        self.scene_id = check_id(type(self).__name__, "scene_id", scene_id)
        reject_unknown(self.where, unknown or {}, keyword_options(type(self).__init__))

    @property
    def where(self) -> str:
        """How error messages name this scene: ``StaticScene('consent')``."""
        return f"{type(self).__name__}({self.scene_id!r})"

    def load_files(self, base_dir: Path) -> None:
        """Read the files the scene refers to (relative to ``base_dir``); StudyError if missing."""

    def client_options(self, ctx: ParticipantContext) -> dict[str, Any]:
        """The JSON-safe options the browser module needs for this participant."""
        return {}

    def to_client(self, ctx: ParticipantContext) -> dict[str, Any]:
        """Everything the browser needs to run the scene: id, type, module URL and options."""
        return {
            "scene_id": self.scene_id,
            "scene_type": self.scene_type,
            "module": self.client_module,
            **self.client_options(ctx),
        }

    def validate_response(self, response: object, ctx: ParticipantContext) -> dict[str, Any]:
        """Check what the browser sent when the participant finished the scene.

        Returns the cleaned response; raises :class:`ResponseError` naming the bad field.
        The default accepts only an empty response.
        """
        if response in (None, {}):
            return {}
        raise ResponseError("", f"{self.scene_type} scenes send no response")

    def check_record(self, kind: str, episode: int | None, step: int | None) -> str | None:
        """Why an uploaded record of ``kind`` cannot belong to this scene (None: it can).

        Called for every record the browser uploads, after its shape was checked; the kind is
        already one of :attr:`record_kinds`.
        """
        return None

    def check_done(self, response: dict[str, Any], stored: StoredScene) -> None:
        """Raise :class:`ResponseError` unless the stored records show the scene was done.

        ``response`` is what :meth:`validate_response` returned. Only called with the stored
        records when :attr:`checks_stored_records` is set.
        """

    def response_records(self, response: dict[str, Any]) -> list[dict[str, Any]]:
        """Records the server stores itself, with the advance, from the checked response.

        Each is a record as the browser would upload it, without ``scene_id`` and ``t``
        (the server fills them in).
        """
        return []

    def __repr__(self) -> str:
        return self.where
