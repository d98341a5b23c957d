"""Example AI policies: ``policy(observation, agent_id) -> action``, standard library only."""
