"""The built-in demo study, served by ``python -m interactive_gym.run`` without a study file.

Consent (with a required checkbox) → instructions → a short survey → the end page with a
completion code. The game scene joins between instructions and survey once it exists.
Copy this file to start your own study.
"""

from interactive_gym.study import (
    EndScene,
    Experiment,
    FreeText,
    Likert,
    MultipleChoice,
    Number,
    StaticScene,
    SurveyScene,
)

consent = StaticScene(
    "consent",
    title="Consent to take part",
    html="""
    <p>This is a demonstration study of Interactive Gym. It takes about two minutes.</p>
    <p>We record your answers and the time you spend on each page. The data is stored
    without your name and used only to try out the software.</p>
    <p>You may stop at any time by closing this page.</p>
    """,
    consent="I have read the information above and agree to take part.",
    button="Start",
)

instructions = StaticScene(
    "instructions",
    title="Instructions",
    html="""
    <p>Next you will answer a few short questions about yourself and this page.</p>
    <p>There are no right or wrong answers. Questions marked * need an answer.</p>
    """,
)

survey = SurveyScene(
    "survey",
    title="A few questions",
    questions=[
        Likert("clear", "The instructions were clear.", points=5),
        MultipleChoice(
            "device",
            "Which device are you using?",
            choices=["Laptop", "Desktop", "Tablet", "Phone"],
        ),
        Number("age", "How old are you?", minimum=18, maximum=110, integer=True),
        FreeText("comments", "Any comments?", multiline=True, required=False),
    ],
)

end = EndScene(
    message="<p>Thank you for trying the Interactive Gym demo study.</p>",
)

experiment = Experiment(
    "demo",
    scenes=[consent, instructions, survey, end],
    seed=2024,
    title="Interactive Gym demo study",
)
