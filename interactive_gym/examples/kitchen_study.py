"""Example study: a cooperative kitchen where a person and an AI partner serve orders.

The participant is the blue cook (agent 0); the green cook is a scripted partner
(``policies/kitchen_partner.py``) running in the browser's worker. Moves are one grid cell per
tick at 8 ticks per second; Space interacts with the tile faced.

    python -m interactive_gym.run interactive_gym/examples/kitchen_study.py
"""

from interactive_gym.study import (
    EndScene,
    Experiment,
    GymScene,
    Likert,
    PythonPolicy,
    StaticScene,
    SurveyScene,
)

instructions = StaticScene(
    "instructions",
    title="Cooking together",
    html="""
    <p>You are the <b>blue</b> cook. Move with the <b>arrow keys</b> and press <b>Space</b> to
    pick up or put down what is in front of you.</p>
    <p>Fill a pot with three ingredients, wait for the soup, bring a dish, and take the soup to
    the serving window. Soups that match an open order (top row) score points for both of you.</p>
    """,
    button="Start",
)

kitchen = GymScene(
    "kitchen",
    env_file="envs/kitchen.py",
    env_config={"max_steps": 480, "cook_time": 40},
    agents={0: "human", 1: PythonPolicy("policies/kitchen_partner.py")},
    controls={"ArrowUp": 1, "ArrowDown": 2, "ArrowLeft": 3, "ArrowRight": 4, "Space": 5},
    default_action=0,
    fps=8,
    episodes=2,
    max_steps=480,
    hud="Round {episode} of {episodes} \u00b7 Score {score} \u00b7 Time left {time_left}",
    when_hidden="pause",
)

feedback = SurveyScene(
    "feedback",
    questions=[
        Likert("partner_helpful", "My partner was helpful.", points=5),
        Likert("partner_predictable", "I could predict what my partner would do.", points=5),
    ],
)

experiment = Experiment(
    "kitchen_example",
    scenes=[instructions, kitchen, feedback, EndScene()],
    seed=12,
    title="Cooking together",
)
