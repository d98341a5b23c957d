"""Replaying a participant's recorded game episodes on the server, to flag implausible ones.

The server stores whatever the browser uploads, so a participant could upload steps the game
never produced. :func:`replay_participant` takes a study's game scenes (``GymScene``) and one
participant's ``step`` and ``episode`` records, and replays every recorded run of an episode
(each ``(episode, attempt)``) in this interpreter: the environment is built the way the page's
worker builds it (the same runtime package ``interactive_gym.runtime``, the same source or
module and ``env_config``, one environment per page load, its episodes in order), reset with
the episode's seed, and stepped with the recorded actions of every agent, human and AI alike::

    from interactive_gym.replay import replay_participant

    verdict = replay_participant(
        [experiment.scene("game")], store.records(pid), participant_seed=participant.seed
    )
    verdict.verified        # True / False / None
    verdict.episodes        # one EpisodeVerdict(scene_id, episode, attempt, verified, reason)

A run is **True** when everything below holds, **False** with the first thing that does not
("step 17: reward 1.0 recorded, env gives 0.0"), and **None** when it cannot be checked (the
environment needs a package that is not installed here, it raised while replaying, the
episode's seed is unknown, nothing was recorded, the replay's step or time budget ran out),
unless the records already contradict themselves (numbering, seed, keys, summary against steps),
which is False with or without an environment. A participant is False if any run is False, None
if no run could be checked, else True.

What a True run shows:

- the steps are numbered 0..n-1, each once;
- the episode's seed is the one the scene gives it (its fixed ``seeds``, or the one derived from
  the participant's seed, when ``participant_seed`` is given);
- the human's action at each step is one the controls give, and the one its recorded ``keys``
  give (``default_action`` when no key was down);
- reset with that seed and stepped with the recorded actions, the environment gives the
  recorded reward of every agent, ``terminated`` and ``truncated`` (with the scene's
  ``max_steps``) at every step, and the observation too when the scene records observations;
- the actions of ``"random"`` agents are the ones their seeded generator draws (and, with
  ``check_policies=True``, the actions of Python-policy agents are what their policy returns);
- the episode ends where the environment ends it, not before or after, and the summary agrees
  with the steps: ``seed``, ``length``, ``return`` (the HUD score), ``returns``, ``terminated``,
  ``truncated`` and ``ended_by``.

So a True run is a trajectory the game really produces from that seed. It does not show:

- that a person played it: a bot driving the page, or a participant who searched offline for
  a good sequence of actions the controls allow and uploaded it with matching keys, passes;
  timing (``tick_t``, ``key_events``, ``dropped_ticks``, ``worker_ms``...) and ``focus`` are
  not checked;
- the actions of ONNX-policy agents (and of Python-policy ones without ``check_policies``):
  they are replayed as recorded;
- ``info``, never compared (it may hold values that differ from run to run), nor observations
  when the scene does not record them, nor anything the environment keeps but does not return;
- that nothing is missing: a run never uploaded is not noticed; the replay judges what is
  recorded (an interrupted run, with no summary, is checked as far as it goes).

It also assumes the scene is the one the participant played (a study file changed since then
makes the replay meaningless) and that the environment is deterministic given its seed and
actions and computes the same here as in Pyodide (the example environments are tested to match
bit for bit). A mismatch that a second replay, from a fresh environment, does not reproduce is
reported as None ("not deterministic"), not as False. Numbers compare within ``REL_TOL`` /
``ABS_TOL`` (rewards and observations are recorded unrounded, through JSON, with NaN and
infinities as strings, which is how the replayed values are converted before comparing).

Limits: a call replays at most ``step_limit`` steps (``MAX_REPLAY_STEPS``) and stops after
``time_limit_s``, both checked between steps; what is left is None. Exceptions of the
environment and its policies are caught and reported, never raised. One call of the
environment that never returns cannot be interrupted from inside: run the replay in a thread
(or process) that may be abandoned. Environments are built one at a time (their source runs
with ``sys.modules["ig_env"]`` set, as in the worker; it is put back afterwards).

A group's game in the browser (2+ human agents, ``runtime="browser"``) is recorded by the
server, not by a page: one canonical step row per frame, owned by the group.
:func:`replay_group` replays those rows the same way, from the group's seed, and also checks
every member's inputs, the stand-ins and the state hashes the rows carry (``_group.py``)::

    verdict = replay_group([experiment.scene("game")], store.records(group_id), group_seed)
"""

from interactive_gym.replay._group import replay_group
from interactive_gym.replay._records import records_from_export
from interactive_gym.replay._replay import (
    DEFAULT_TIME_LIMIT_S,
    MAX_REPLAY_STEPS,
    EpisodeVerdict,
    ParticipantVerdict,
    replay_participant,
    roll_up,
)
from interactive_gym.replay._values import ABS_TOL, REL_TOL

__all__ = [
    "ABS_TOL",
    "DEFAULT_TIME_LIMIT_S",
    "MAX_REPLAY_STEPS",
    "REL_TOL",
    "EpisodeVerdict",
    "ParticipantVerdict",
    "records_from_export",
    "replay_group",
    "replay_participant",
    "roll_up",
]
