"""Example study: Physics Duel, two-player air hockey against an AI that tracks the puck.

The reference environment of the benchmark. The participant is the red paddle (agent 0) and
plays with the arrow keys, including diagonals (two arrows at once); the AI opponent is a
Python policy running in the browser's worker beside the environment. Three games to three
goals (or one minute each), 30 frames per second.

    python -m interactive_gym.run interactive_gym/examples/physics_duel_study.py
"""

from interactive_gym.study import EndScene, Experiment, GymScene, PythonPolicy, StaticScene

instructions = StaticScene(
    "instructions",
    title="Air hockey",
    html="""
    <p>You are the <b>red</b> paddle on the left. Move it with the <b>arrow keys</b>; hold
    two arrows for a diagonal. Hit the puck into the blue goal on the right.</p>
    <p>Three games, each to three goals or one minute.</p>
    """,
    button="Start",
)

duel = GymScene(
    "duel",
    env_file="envs/physics_duel.py",
    env_config={"goals_to_win": 3, "max_steps": 1800},
    agents={0: "human", 1: PythonPolicy("policies/physics_duel_tracker.py", config={"speed": 0.8})},
    controls={
        "ArrowUp": 1,
        "ArrowDown": 2,
        "ArrowLeft": 3,
        "ArrowRight": 4,
        "ArrowUp+ArrowLeft": 5,
        "ArrowUp+ArrowRight": 6,
        "ArrowDown+ArrowLeft": 7,
        "ArrowDown+ArrowRight": 8,
    },
    default_action=0,
    num_actions=9,
    fps=30,
    episodes=3,
    hud="Game {episode} of {episodes} \u00b7 Goal difference {score} \u00b7 Time left {time_left}",
    max_steps=1800,
    countdown_s=3,
    pause_after_episode_s=2,
)

experiment = Experiment(
    "physics_duel_example",
    scenes=[instructions, duel, EndScene(message="<p>Thank you for playing.</p>")],
    seed=11,
    title="Air hockey",
)
