"""Example study: Gymnasium's own CartPole-v1, run on the server and streamed to the page.

``runtime="server"``: the environment is ``gymnasium.make("CartPole-v1",
render_mode="rgb_array")`` in the server's env processes; the server steps it at ``fps`` with
the participant's latest key, sends every frame as a JPEG over the study socket, and records
every step and episode itself (see docs/server-runtime.md). Nothing but the frames and the
keys crosses the network, so any installed Gymnasium environment can be played this way.

    pip install "gymnasium[classic-control]"
    python -m interactive_gym.run interactive_gym/examples/gymnasium_study.py
"""

from interactive_gym.study import EndScene, Experiment, GymScene, StaticScene

instructions = StaticScene(
    "instructions",
    title="Balance the pole",
    html="""
    <p>Keep the pole upright by pushing the cart with the <b>left</b> and <b>right arrow
    keys</b>. When no key is down, the cart is pushed left.</p>
    <p>Three short tries, up to ten seconds each.</p>
    """,
    button="Start",
)

cartpole = GymScene(
    "cartpole",
    runtime="server",
    env_id="CartPole-v1",
    agents={"player": "human"},
    controls={"ArrowLeft": 0, "ArrowRight": 1},
    default_action=0,
    fps=30,
    episodes=3,
    max_steps=300,
    hud="Try {episode} of {episodes} \u00b7 Steps balanced {score} \u00b7 Time left {time_left}",
    countdown_s=2,
    pause_after_episode_s=1.5,
    frame_format="jpeg",
    frame_quality=75,
    reconnect_s=30,
)

experiment = Experiment(
    "gymnasium_example",
    scenes=[instructions, cartpole, EndScene()],
    seed=21,
    title="Balance the pole (server runtime)",
)
