"""Example study: two people play air hockey against each other, each in their own browser.

A ``WaitingRoom`` pairs participants; each pair plays ``envs/physics_duel.py`` at 30 frames
per second with the environment running in **both** members' browsers (``runtime="browser"``
with two human agents): each page predicts the partner's keys and corrects itself when they
arrive (``netcode="rollback"``), so the controls feel local even with 100 ms between the
players. The server only relays and orders the keys, and writes one step row per frame from
the keys both pages agreed on (docs/netcode.md). If a partner leaves mid-game, the puck-tracking
AI takes over their paddle (in both browsers alike).

    python -m interactive_gym.run interactive_gym/examples/duel_study.py
"""

from interactive_gym.study import (
    EndScene,
    Experiment,
    GymScene,
    PythonPolicy,
    StandIn,
    StaticScene,
    WaitingRoom,
)

ARROWS = {
    "ArrowUp": 1,
    "ArrowDown": 2,
    "ArrowLeft": 3,
    "ArrowRight": 4,
    "ArrowUp+ArrowLeft": 5,
    "ArrowUp+ArrowRight": 6,
    "ArrowDown+ArrowLeft": 7,
    "ArrowDown+ArrowRight": 8,
}

instructions = StaticScene(
    "instructions",
    title="Air hockey for two",
    html="""
    <p>You will play air hockey against another participant. Move your paddle with the
    <b>arrow keys</b>; hold two arrows for a diagonal. The first to score two goals wins a
    game; there are two games.</p>
    """,
    button="Find an opponent",
)

lobby = WaitingRoom(
    "lobby",
    timeout_s=180,
    on_timeout=EndScene(
        "no_partner",
        message="We could not find an opponent for you in time. Thank you for waiting!",
        completion_code="NOPARTNER",
    ),
)

duel = GymScene(
    "duel",
    runtime="browser",
    netcode="rollback",
    env_file="envs/physics_duel.py",
    env_config={"goals_to_win": 2, "max_steps": 1800},
    agents={0: "human", 1: "human"},
    controls=ARROWS,
    default_action=0,
    num_actions=9,
    fps=30,
    episodes=2,
    max_steps=1800,
    hud="Game {episode} of {episodes} \u00b7 Goal difference {score} \u00b7 Time left {time_left}",
    on_member_leave=StandIn(
        {
            0: PythonPolicy("policies/physics_duel_tracker.py", config={"speed": 0.8}),
            1: PythonPolicy("policies/physics_duel_tracker.py", config={"speed": 0.8}),
        }
    ),
)

experiment = Experiment(
    "duel_example",
    scenes=[instructions, lobby, duel, EndScene(message="<p>Thank you for playing.</p>")],
    seed=17,
    title="Air hockey for two",
)
