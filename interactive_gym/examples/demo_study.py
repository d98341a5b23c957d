"""The built-in demo study, served by ``python -m interactive_gym.run`` without a study file.

Consent (with a required checkbox) → instructions → two episodes of the cooperative kitchen
game with an AI partner → a short survey → the end page with a completion code. The game's
environment loads in the participant's browser while they read the consent and instructions.
Copy this file to start your own study.
"""

from interactive_gym.study import (
    EndScene,
    Experiment,
    FreeText,
    GymScene,
    Likert,
    MultipleChoice,
    Number,
    PythonPolicy,
    StaticScene,
    SurveyScene,
)

consent = StaticScene(
    "consent",
    title="Consent to take part",
    html="""
    <p>This is a demonstration study of Interactive Gym. It takes about three minutes.</p>
    <p>We record your answers, the keys you press in the game, and the time you spend on each
    page. The data is stored
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
    <p>Next you cook with an AI partner in a small kitchen, for two rounds of 40 seconds.</p>
    <ul>
      <li>You are the <b>blue</b> cook. Move with the <b>arrow keys</b>.</li>
      <li>Press <b>Space</b> to pick up or put down what is in front of you: take onions or
      tomatoes from their crates and put three in a pot; when the soup is cooked, bring a dish
      to the pot, then take the soup to the serving window.</li>
      <li>Serve soups that match the open orders (shown at the top) to score points.</li>
    </ul>
    <p>Afterwards you answer a few short questions. Questions marked * need an answer.</p>
    """,
)

game = GymScene(
    "kitchen",
    title="Cook with your partner",
    env_file="envs/kitchen.py",
    env_config={"max_steps": 320},  # the kitchen shows the steps left of its own limit
    agents={0: "human", 1: PythonPolicy("policies/kitchen_partner.py")},
    controls={"ArrowUp": 1, "ArrowDown": 2, "ArrowLeft": 3, "ArrowRight": 4, "Space": 5},
    default_action=0,
    fps=8,
    episodes=2,
    max_steps=320,
    hud="Round {episode} of {episodes} \u00b7 Score {score} \u00b7 Time left {time_left}",
    countdown_s=3,
    pause_after_episode_s=3,
)

survey = SurveyScene(
    "survey",
    title="A few questions",
    questions=[
        Likert("clear", "The instructions were clear.", points=5),
        Likert("partner", "My partner was helpful.", points=5),
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
    scenes=[consent, instructions, game, survey, end],
    seed=2024,
    title="Interactive Gym demo study",
)
