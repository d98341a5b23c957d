"""Example study: two people cook together in one kitchen (a human–human group game).

Participants wait in a ``WaitingRoom`` until a partner arrives (first come, first paired);
the pair then plays the kitchen on the server runtime: the server steps the env with both
cooks' keys and streams the same frames to both pages. If nobody arrives within two minutes,
the participant cooks with an AI partner instead (``on_timeout=StandIn``); if a partner drops
and does not come back within 20 s, the AI takes over their cook (``on_member_leave``).

    python -m interactive_gym.run interactive_gym/examples/pairs_study.py

Open the study in two browser windows (two separate profiles or one private window) to play
both cooks yourself.
"""

from interactive_gym.study import (
    EndScene,
    Experiment,
    GymScene,
    Likert,
    PythonPolicy,
    StandIn,
    StaticScene,
    SurveyScene,
    WaitingRoom,
)

partner = PythonPolicy("policies/kitchen_partner.py")

instructions = StaticScene(
    "instructions",
    title="Cooking together",
    html="""
    <p>You will cook with another participant. Move your cook with the <b>arrow keys</b> and
    press <b>Space</b> to pick up or put down what is in front of you.</p>
    <p>Fill a pot with three ingredients, wait for the soup, bring a dish, and take the soup to
    the serving window. Soups that match an open order score points for both of you.</p>
    """,
    button="Find a partner",
)

lobby = WaitingRoom(
    "lobby",
    timeout_s=120,
    on_timeout=StandIn({0: partner, 1: partner}),
    message="Waiting for another participant to join. This usually takes less than a minute.",
)

kitchen = GymScene(
    "kitchen",
    runtime="server",
    env_file="envs/kitchen.py",
    env_config={"max_steps": 480, "cook_time": 40},
    agents={0: "human", 1: "human"},
    controls={"ArrowUp": 1, "ArrowDown": 2, "ArrowLeft": 3, "ArrowRight": 4, "Space": 5},
    default_action=0,
    fps=8,
    episodes=2,
    max_steps=480,
    hud="Round {episode} of {episodes} \u00b7 Your score {score} \u00b7 Time left {time_left}",
    on_member_leave=StandIn({0: partner, 1: partner}),
    reconnect_s=20,
)

feedback = SurveyScene(
    "feedback",
    questions=[
        Likert("partner_helpful", "My partner was helpful.", points=5),
        Likert("partner_predictable", "I could predict what my partner would do.", points=5),
    ],
)

experiment = Experiment(
    "pairs_example",
    scenes=[instructions, lobby, kitchen, feedback, EndScene()],
    seed=14,
    title="Cooking together",
)
