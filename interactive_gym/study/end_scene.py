"""EndScene: the last page, showing the completion code once every record is stored."""

from __future__ import annotations

import hashlib
import hmac
import string
from typing import Any
from urllib.parse import quote

from interactive_gym.study.errors import StudyError
from interactive_gym.study.options import check_number, check_str
from interactive_gym.study.scene import SCENE_MODULES, ParticipantContext, Scene

#: Letters of generated completion codes (no 0/O or 1/I/L to misread).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10


def generated_code(key: bytes, experiment_id: str, participant_id: str) -> str:
    """A participant's own completion code: an HMAC of their ids under a server-side key.

    Nothing the page sees (ids, seeds) lets anyone compute it without the server's secret.
    """
    message = f"completion\x00{experiment_id}\x00{participant_id}".encode()
    value = int.from_bytes(hmac.new(key, message, hashlib.sha256).digest(), "big")
    letters = []
    for _ in range(CODE_LENGTH):
        value, index = divmod(value, len(CODE_ALPHABET))
        letters.append(CODE_ALPHABET[index])
    return "".join(letters)


#: Placeholders a redirect template may use besides the participant's URL parameters.
BUILTIN_PLACEHOLDERS = ("participant_id", "completion_code")


def template_fields(where: str, template: str) -> list[str]:
    """The ``{name}`` placeholders of a redirect template; StudyError for anything fancier."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise StudyError(
            where, f"redirect_url {template!r}: {exc}", "write placeholders as {NAME}; '{{' for '{'"
        ) from exc
    names = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise StudyError(
                where,
                f"redirect_url placeholder {{{name}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}} is not a plain name",
                "use plain names of URL parameters, e.g. {PROLIFIC_PID} or {completion_code}",
            )
        names.append(name)
    return names


class EndScene(Scene):
    """The study's last scene: a thank-you message, the completion code and an optional redirect.

    The page shows the code, and redirects, only after the server has acknowledged every record
    the participant produced; the participant is marked completed at that moment and cannot
    take the study again.

    Args:
        scene_id: unique id of the scene (default ``"end"``).
        message: HTML shown above the completion code.
        completion_code: the code to show, e.g. the one Prolific gives your study. When None,
            each participant gets their own 10-character code, keyed with the server's secret
            (nobody can compute it from what the page sees); it is stored with the participant
            and exported in the ``completion_code`` column, to check submissions against.
        redirect_url: where to send the participant afterwards, a template filled with their
            URL parameters and ``participant_id`` / ``completion_code``, URL-encoded, e.g.
            ``"https://app.prolific.com/submissions/complete?cc={completion_code}"``.
            A parameter the participant did not bring is filled with an empty string.
        redirect_delay_s: seconds the code stays on screen before the redirect.
    """

    scene_type = "end"
    client_module = SCENE_MODULES + "end.js"

    def __init__(
        self,
        scene_id: str = "end",
        *,
        message: str = "<p>Thank you for taking part in this study.</p>",
        completion_code: str | None = None,
        redirect_url: str | None = None,
        redirect_delay_s: float = 3.0,
        **unknown: object,
    ) -> None:
        super().__init__(scene_id, unknown)
        self.message = check_str(self.where, "message", message)
        self.completion_code = check_str(
            self.where, "completion_code", completion_code, optional=True
        )
        self.redirect_url = check_str(self.where, "redirect_url", redirect_url, optional=True)
        if self.redirect_url is not None:
            if not self.redirect_url.startswith(("https://", "http://", "/")):
                raise StudyError(
                    self.where,
                    f"redirect_url {self.redirect_url!r} is not an http(s) URL or a path",
                    "start it with https://",
                )
            template_fields(self.where, self.redirect_url)
        delay = check_number(self.where, "redirect_delay_s", redirect_delay_s)
        if not 0 <= delay <= 600:
            raise StudyError(self.where, f"redirect_delay_s must be 0-600 seconds, got {delay}")
        self.redirect_delay_s = float(delay)

    def client_options(self, ctx: ParticipantContext) -> dict[str, Any]:
        """The message only: the code and redirect come with :meth:`completion`."""
        return {"message": self.message, "redirect_delay_s": self.redirect_delay_s}

    def code_for(self, ctx: ParticipantContext, key: bytes) -> str:
        """The participant's completion code: the fixed one, or generated with ``key``."""
        if self.completion_code is not None:
            return self.completion_code
        return generated_code(key, ctx.experiment_id, ctx.participant_id)

    def completion(self, ctx: ParticipantContext, code: str) -> dict[str, Any]:
        """What the page shows once the participant completed: code and filled redirect URL."""
        redirect = None
        if self.redirect_url is not None:
            values = {str(k): str(v) for k, v in ctx.url_params.items()}
            values.update(participant_id=ctx.participant_id, completion_code=code)
            names = template_fields(self.where, self.redirect_url)
            redirect = self.redirect_url.format(
                **{n: quote(values.get(n, ""), safe="") for n in names}
            )
        return {"completion_code": code, "redirect_url": redirect}
