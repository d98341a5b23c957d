"""The browser checks survey answers with the same rules as the server.

Every case runs through ``Question.validate`` in Python and ``problem()`` of
``static/js/study/scenes/survey_questions.js`` in Node; both must agree on which answers are
acceptable. Answers are of the kinds the page's inputs produce (trimmed text, numbers, listed
choices, null when unanswered).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from interactive_gym.study import FreeText, Likert, MultipleChoice, Number, ResponseError

MODULE = (
    Path(__file__).resolve().parents[2]
    / "interactive_gym/server/static/js/study/scenes/survey_questions.js"
)

QUESTIONS = {
    "likert": Likert("likert", "L", points=5),
    "choice": MultipleChoice("choice", "C", choices=["a", "b"]),
    "multi": MultipleChoice("multi", "M", choices=["a", "b", "c"], multiple=True, required=False),
    "text": FreeText("text", "T", max_length=5),
    "optional_text": FreeText("optional_text", "T", required=False),
    "number": Number("number", "N", minimum=-1.5, maximum=10),
    "integer": Number("integer", "I", minimum=0, maximum=3, integer=True),
}
CASES = [
    ("likert", None), ("likert", 1), ("likert", 5),
    ("choice", None), ("choice", "a"),
    ("multi", None), ("multi", ["a"]), ("multi", ["a", "c"]),
    ("text", None), ("text", "hello"), ("text", "hello!"),
    ("optional_text", None), ("optional_text", "x"),
    ("number", None), ("number", -1.5), ("number", -1.6), ("number", 10), ("number", 10.01),
    ("number", 3.25),
    ("integer", 0), ("integer", 3), ("integer", 4), ("integer", 1.5), ("integer", -1),
]  # fmt: skip

SCRIPT = """
import { problem } from %s;
const cases = JSON.parse(process.argv[1]);
console.log(JSON.stringify(cases.map(([q, answer]) => problem(q, answer) === null)));
"""


def python_accepts(question_id: str, answer: object) -> bool:
    try:
        QUESTIONS[question_id].validate(answer)
    except ResponseError:
        return False
    return True


def test_browser_and_server_accept_the_same_answers() -> None:
    cases = [[QUESTIONS[q].to_client(), answer] for q, answer in CASES]
    result = subprocess.run(
        [
            "node",
            "--input-type=module",
            "-e",
            SCRIPT % json.dumps(MODULE.as_uri()),
            json.dumps(cases),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    browser = json.loads(result.stdout)
    server = [python_accepts(q, answer) for q, answer in CASES]
    assert browser == server, [c for c, b, s in zip(CASES, browser, server, strict=True) if b != s]
    assert True in server and False in server
