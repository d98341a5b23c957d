"""Example study: three players gather coins, two people and an AI (a group of two humans).

A ``WaitingRoom`` pairs participants; each pair plays ``envs/gather.py`` with a third,
AI-controlled player on the server runtime. Pairs are put in the ``fast`` or ``slow``
condition, balanced over pairs (``Conditions(per="group")``): both members play at the same
speed. A participant without a partner after three minutes gets their own completion code
(``on_timeout=EndScene(...)``); if a partner leaves mid-game, the game ends for the other
member, whose data is kept, and they go on with the study.

    python -m interactive_gym.run interactive_gym/examples/trio_study.py
"""

from interactive_gym.study import (
    Conditions,
    EndScene,
    Experiment,
    GymScene,
    Likert,
    PythonPolicy,
    StaticScene,
    SurveyScene,
    WaitingRoom,
)

instructions = StaticScene(
    "instructions",
    title="Gather the coins",
    html="""
    <p>You and another participant each move a coloured disc with the <b>arrow keys</b>; a
    third disc is played by the computer. Step on gold coins to collect them.</p>
    """,
    button="Find a partner",
)

lobby = WaitingRoom(
    "lobby",
    timeout_s=180,
    on_timeout=EndScene(
        "no_partner",
        message="We could not find a partner for you in time. Thank you for waiting!",
        completion_code="NOPARTNER",
    ),
)


def gather(scene_id: str, fps: int) -> GymScene:
    return GymScene(
        scene_id,
        runtime="server",
        env_file="envs/gather.py",
        env_config={"players": 3, "max_steps": 40 * fps},
        agents={0: "human", 1: "human", 2: PythonPolicy("policies/gather_greedy.py")},
        controls={"ArrowUp": 1, "ArrowDown": 2, "ArrowLeft": 3, "ArrowRight": 4},
        default_action=0,
        fps=fps,
        episodes=2,
        max_steps=40 * fps,
        hud="Round {episode} of {episodes} \u00b7 Your coins {score} \u00b7 Time left {time_left}",
        on_member_leave="end",
    )


feedback = SurveyScene(
    "feedback",
    questions=[Likert("teamwork", "We worked well as a team.", points=5)],
)

experiment = Experiment(
    "trio_example",
    scenes=[
        instructions,
        lobby,
        Conditions(
            {"fast": [gather("gather_fast", 12)], "slow": [gather("gather_slow", 6)]}, per="group"
        ),
        feedback,
        EndScene(),
    ],
    seed=31,
    title="Gather the coins",
)
