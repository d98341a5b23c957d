"""Example study: CartPole, the classic control task, played with two keys.

Single agent: actions are plain values (0 push left, 1 push right). CartPole has no "do
nothing" action, so the action while no key is down (``default_action``) is 0, push left.
50 ticks per second: the env's own timestep of 0.02 s. Observations are recorded.

    python -m interactive_gym.run interactive_gym/examples/cartpole_study.py
"""

from interactive_gym.study import EndScene, Experiment, GymScene, StaticScene

instructions = StaticScene(
    "instructions",
    title="Balance the pole",
    html="""
    <p>Keep the pole upright by pushing the cart with the <b>left</b> and <b>right arrow
    keys</b> (or <b>A</b> and <b>D</b>). When no key is down, the cart is pushed left.</p>
    <p>Five tries, up to ten seconds each.</p>
    """,
    button="Start",
)

cartpole = GymScene(
    "cartpole",
    env_file="envs/cartpole.py",
    agents={"player": "human"},
    controls={"ArrowLeft": 0, "ArrowRight": 1, "a": 0, "d": 1},
    default_action=0,
    fps=50,
    episodes=5,
    max_steps=500,
    hud="Try {episode} of {episodes} \u00b7 Steps balanced {score} \u00b7 Time left {time_left}",
    countdown_s=2,
    pause_after_episode_s=1.5,
    record_observations=True,
)

experiment = Experiment(
    "cartpole_example",
    scenes=[instructions, cartpole, EndScene()],
    seed=13,
    title="Balance the pole",
)
