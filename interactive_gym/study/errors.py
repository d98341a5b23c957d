"""The two errors of a study: a bad study definition, and a bad answer from a browser."""

from __future__ import annotations


class StudyError(Exception):
    """The study definition is wrong; the message names the culprit and how to fix it.

    Raised while a study file is loaded, so a researcher sees it when starting the server and
    never in front of a participant.

    Attributes:
        where: what is wrong, e.g. ``SurveyScene('feedback').questions[2]``.
        problem: what is wrong with it.
        fix: what to change.
        location: ``file:line`` in the study file, filled by the loader when known.
    """

    def __init__(self, where: str, problem: str, fix: str = "", location: str = "") -> None:
        self.where = where
        self.problem = problem
        self.fix = fix
        self.location = location
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = f"{self.where}: {self.problem}"
        if self.fix:
            text += f"\n  fix: {self.fix}"
        if self.location:
            text = f"{self.location}: {text}"
        return text

    def at(self, location: str) -> StudyError:
        """The same error, located in the study file."""
        return StudyError(self.where, self.problem, self.fix, location)

    def __str__(self) -> str:
        return self.message


class ResponseError(ValueError):
    """What a browser sent at the end of a scene breaks the scene's rules.

    Attributes:
        field: the offending field (a question id, ``consent``, …) or ``""`` for the whole response.
        reason: a short, participant-readable reason.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}" if field else reason)
