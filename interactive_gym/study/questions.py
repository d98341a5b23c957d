"""Survey questions: Likert scales, multiple choice, free text and numbers.

Each question describes itself to the browser (:meth:`Question.to_client`) and checks an answer
(:meth:`Question.validate`) with the same rules the browser applies before sending it, so a
tampered or buggy page cannot store an answer the study does not allow. An unanswered optional
question is ``None``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from interactive_gym.study.errors import ResponseError, StudyError
from interactive_gym.study.options import (
    check_bool,
    check_id,
    check_int,
    check_number,
    check_str,
    check_str_list,
    keyword_options,
    reject_unknown,
)

#: Longest free-text answer a question may allow.
MAX_TEXT_LENGTH = 20_000


class Question:
    """Base of the question types: an id, the question text, and whether it is required."""

    kind: ClassVar[str] = ""

    def __init__(
        self, question_id: str, text: str, required: bool, unknown: dict[str, object]
    ) -> None:
        self.question_id = check_id(type(self).__name__, "question_id", question_id)
        self.text = check_str(self.where, "text", text)
        self.required = check_bool(self.where, "required", required)
        reject_unknown(self.where, unknown, keyword_options(type(self).__init__))

    @property
    def where(self) -> str:
        return f"{type(self).__name__}({self.question_id!r})"

    def to_client(self) -> dict[str, Any]:
        return {
            "id": self.question_id,
            "kind": self.kind,
            "text": self.text,
            "required": self.required,
            **self.client_options(),
        }

    def client_options(self) -> dict[str, Any]:
        return {}

    def validate(self, answer: object) -> Any:
        """The cleaned answer, or ResponseError naming this question."""
        if answer is None or (isinstance(answer, str | list) and not answer):
            if self.required:
                raise ResponseError(self.question_id, "an answer is required")
            return None
        return self.check(answer)

    def check(self, answer: object) -> Any:
        raise NotImplementedError

    def refuse(self, reason: str) -> ResponseError:
        return ResponseError(self.question_id, reason)

    def __repr__(self) -> str:
        return self.where


class Likert(Question):
    """A rating on a scale of ``points`` (answer 1..points), with end labels or one per point."""

    kind = "likert"

    def __init__(
        self,
        question_id: str,
        text: str,
        *,
        points: int | None = None,
        low: str = "Strongly disagree",
        high: str = "Strongly agree",
        labels: list[str] | None = None,
        required: bool = True,
        **unknown: object,
    ) -> None:
        super().__init__(question_id, text, required, unknown)
        self.labels = (
            None if labels is None else check_str_list(self.where, "labels", labels, min_len=2)
        )
        if self.labels is not None and points is not None and points != len(self.labels):
            raise StudyError(
                self.where,
                f"points={points} but {len(self.labels)} labels are given",
                "drop points; with labels the scale has one point per label",
            )
        default = 7 if self.labels is None else len(self.labels)
        self.points = check_int(
            self.where, "points", default if points is None else points, minimum=2, maximum=11
        )
        self.low = check_str(self.where, "low", low)
        self.high = check_str(self.where, "high", high)

    def client_options(self) -> dict[str, Any]:
        return {"points": self.points, "low": self.low, "high": self.high, "labels": self.labels}

    def check(self, answer: object) -> int:
        if (
            not isinstance(answer, int)
            or isinstance(answer, bool)
            or not 1 <= answer <= self.points
        ):
            raise self.refuse(f"choose a point from 1 to {self.points}")
        return answer


class MultipleChoice(Question):
    """One choice out of ``choices`` (answer: the choice), or several when ``multiple``."""

    kind = "choice"

    def __init__(
        self,
        question_id: str,
        text: str,
        *,
        choices: list[str],
        multiple: bool = False,
        required: bool = True,
        **unknown: object,
    ) -> None:
        super().__init__(question_id, text, required, unknown)
        self.choices = check_str_list(self.where, "choices", choices, min_len=2)
        self.multiple = check_bool(self.where, "multiple", multiple)

    def client_options(self) -> dict[str, Any]:
        return {"choices": self.choices, "multiple": self.multiple}

    def check(self, answer: object) -> str | list[str]:
        if not self.multiple:
            if answer not in self.choices:
                raise self.refuse("choose one of the listed options")
            return str(answer)
        if not isinstance(answer, list) or not all(a in self.choices for a in answer):
            raise self.refuse("choose among the listed options")
        if len(set(answer)) != len(answer):
            raise self.refuse("an option is chosen twice")
        return list(answer)


class FreeText(Question):
    """A text answer of at most ``max_length`` characters; ``multiline`` shows a text area."""

    kind = "text"

    def __init__(
        self,
        question_id: str,
        text: str,
        *,
        multiline: bool = False,
        max_length: int = 1000,
        required: bool = True,
        **unknown: object,
    ) -> None:
        super().__init__(question_id, text, required, unknown)
        self.multiline = check_bool(self.where, "multiline", multiline)
        self.max_length = check_int(
            self.where, "max_length", max_length, minimum=1, maximum=MAX_TEXT_LENGTH
        )

    def client_options(self) -> dict[str, Any]:
        return {"multiline": self.multiline, "max_length": self.max_length}

    def validate(self, answer: object) -> Any:
        return super().validate(answer.strip() if isinstance(answer, str) else answer)

    def check(self, answer: object) -> str:
        if not isinstance(answer, str):
            raise self.refuse("the answer must be text")
        if len(answer) > self.max_length:
            raise self.refuse(f"the answer is longer than {self.max_length} characters")
        return answer


class Number(Question):
    """A number between ``minimum`` and ``maximum`` (inclusive); whole numbers if ``integer``."""

    kind = "number"

    def __init__(
        self,
        question_id: str,
        text: str,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        integer: bool = False,
        required: bool = True,
        **unknown: object,
    ) -> None:
        super().__init__(question_id, text, required, unknown)
        self.minimum = check_number(self.where, "minimum", minimum, optional=True)
        self.maximum = check_number(self.where, "maximum", maximum, optional=True)
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise StudyError(
                self.where, f"minimum {self.minimum} is above maximum {self.maximum}", "swap them"
            )
        self.integer = check_bool(self.where, "integer", integer)
        if (
            self.integer
            and None not in (self.minimum, self.maximum)
            and math.ceil(self.minimum) > math.floor(self.maximum)  # type: ignore[arg-type]
        ):
            raise StudyError(
                self.where,
                f"no whole number lies between {self.minimum} and {self.maximum}",
                "widen the range or drop integer=True",
            )

    def client_options(self) -> dict[str, Any]:
        return {"minimum": self.minimum, "maximum": self.maximum, "integer": self.integer}

    def check(self, answer: object) -> int | float:
        if not isinstance(answer, int | float) or isinstance(answer, bool):
            raise self.refuse("the answer must be a number")
        if not math.isfinite(answer):
            raise self.refuse("the answer must be a finite number")
        if self.integer:
            if isinstance(answer, float) and not answer.is_integer():
                raise self.refuse("the answer must be a whole number")
            answer = int(answer)
        if self.minimum is not None and answer < self.minimum:
            raise self.refuse(f"the answer must be at least {self.minimum:g}")
        if self.maximum is not None and answer > self.maximum:
            raise self.refuse(f"the answer must be at most {self.maximum:g}")
        return answer


#: The question types a SurveyScene accepts.
QUESTION_TYPES: tuple[type[Question], ...] = (Likert, MultipleChoice, FreeText, Number)
