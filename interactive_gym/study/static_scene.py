"""StaticScene: a page of HTML (instructions, information, consent) and a continue button."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interactive_gym.study.errors import ResponseError, StudyError
from interactive_gym.study.options import check_file, check_str, describe
from interactive_gym.study.scene import SCENE_MODULES, ParticipantContext, Scene


class StaticScene(Scene):
    """HTML content with a continue button, optionally behind a required consent checkbox.

    Args:
        scene_id: unique id of the scene in the study.
        html: the page's HTML (trusted: it comes from the researcher's study file).
        html_file: a file holding the HTML, relative to the study file's folder. Give ``html``
            or ``html_file``, not both.
        title: heading shown above the content.
        consent: label of a checkbox the participant must tick before continuing, e.g.
            ``"I have read the information above and agree to take part."``.
        button: label of the continue button.
    """

    scene_type = "static"
    client_module = SCENE_MODULES + "static.js"

    def __init__(
        self,
        scene_id: str,
        *,
        html: str | None = None,
        html_file: str | Path | None = None,
        title: str | None = None,
        consent: str | None = None,
        button: str = "Continue",
        **unknown: object,
    ) -> None:
        super().__init__(scene_id, unknown)
        if (html is None) == (html_file is None):
            raise StudyError(
                self.where,
                "give the page content as html=... or html_file=..., "
                + ("not both" if html is not None else "neither was given"),
                'e.g. html="<p>Welcome!</p>" or html_file="pages/welcome.html"',
            )
        self.html = check_str(self.where, "html", html, optional=True)
        self.html_file = html_file
        if html_file is not None and not isinstance(html_file, str | Path):
            raise StudyError(
                self.where, f"html_file must be a file path, got {describe(html_file)}"
            )
        self.title = check_str(self.where, "title", title, optional=True)
        self.consent = check_str(self.where, "consent", consent, optional=True)
        self.button = check_str(self.where, "button", button)

    def load_files(self, base_dir: Path) -> None:
        if self.html_file is not None:
            path = check_file(self.where, "html_file", self.html_file, base_dir)
            self.html = path.read_text(encoding="utf-8")

    def client_options(self, ctx: ParticipantContext) -> dict[str, Any]:
        if self.html is None:
            raise StudyError(
                self.where, "html_file was not read", "load the study through Experiment"
            )
        return {
            "title": self.title,
            "html": self.html,
            "consent": self.consent,
            "button": self.button,
        }

    def validate_response(self, response: object, ctx: ParticipantContext) -> dict[str, Any]:
        """A consent page must come back with ``{"consent": true}``; others with nothing."""
        if self.consent is None:
            return super().validate_response(response, ctx)
        if not isinstance(response, dict) or response.get("consent") is not True:
            raise ResponseError("consent", "the consent box must be ticked to continue")
        if set(response) != {"consent"}:
            raise ResponseError("", "a consent page sends only {consent: true}")
        return {"consent": True}
