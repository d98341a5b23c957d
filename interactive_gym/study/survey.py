"""SurveyScene: a page of questions whose answers are checked in the browser and on the server."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from interactive_gym.study.errors import ResponseError, StudyError
from interactive_gym.study.options import check_str, describe
from interactive_gym.study.questions import QUESTION_TYPES, Question
from interactive_gym.study.scene import SCENE_MODULES, ParticipantContext, Scene


class SurveyScene(Scene):
    """A list of questions on one page; the participant continues once every required one is
    answered. The answers the server checked are stored, by the server, as one ``survey``
    record ``{question_id: answer}`` (the browser never uploads answers itself).

    Args:
        scene_id: unique id of the scene in the study.
        questions: ``Likert``, ``MultipleChoice``, ``FreeText`` and ``Number`` questions, with
            ids unique within the scene.
        title: heading shown above the questions.
        intro: HTML shown between the title and the questions.
        button: label of the submit button.
    """

    scene_type = "survey"
    client_module = SCENE_MODULES + "survey.js"

    def __init__(
        self,
        scene_id: str,
        *,
        questions: Sequence[Question],
        title: str | None = None,
        intro: str | None = None,
        button: str = "Continue",
        **unknown: object,
    ) -> None:
        super().__init__(scene_id, unknown)
        names = ", ".join(t.__name__ for t in QUESTION_TYPES)
        if not isinstance(questions, list | tuple) or not questions:
            raise StudyError(
                self.where,
                f"questions must be a non-empty list, got {describe(questions)}",
                f"list questions made with {names}",
            )
        seen: set[str] = set()
        for i, question in enumerate(questions):
            if not isinstance(question, Question):
                raise StudyError(
                    self.where,
                    f"questions[{i}] is a {describe(question)}, not a question",
                    f"use one of {names}",
                )
            if question.question_id in seen:
                raise StudyError(
                    self.where,
                    f"questions[{i}]: question id {question.question_id!r} is used twice",
                    "give each question of a survey its own id",
                )
            seen.add(question.question_id)
        self.questions: list[Question] = list(questions)
        self.title = check_str(self.where, "title", title, optional=True)
        self.intro = check_str(self.where, "intro", intro, optional=True)
        self.button = check_str(self.where, "button", button)

    def client_options(self, ctx: ParticipantContext) -> dict[str, Any]:
        return {
            "title": self.title,
            "intro": self.intro,
            "button": self.button,
            "questions": [q.to_client() for q in self.questions],
        }

    def validate_response(self, response: object, ctx: ParticipantContext) -> dict[str, Any]:
        """``{"answers": {question_id: answer}}`` with every question present (None if skipped)."""
        if not isinstance(response, dict) or set(response) != {"answers"}:
            raise ResponseError("", "a survey sends {answers: {question_id: answer}}")
        answers = response["answers"]
        if not isinstance(answers, dict):
            raise ResponseError("", "answers must map question ids to answers")
        known = {q.question_id for q in self.questions}
        unknown = sorted(str(k) for k in answers if k not in known)
        if unknown:
            raise ResponseError(unknown[0], "no such question in this survey")
        return {
            "answers": {
                q.question_id: q.validate(answers.get(q.question_id)) for q in self.questions
            }
        }

    def response_records(self, response: dict[str, Any]) -> list[dict[str, Any]]:
        """The checked answers, as the scene's one ``survey`` record."""
        return [{"kind": "survey", "data": dict(response["answers"])}]
