"""The planner's mesa-objective read off its weights."""

from __future__ import annotations

import torch

from mesalab.envs.gridworld.observations import CHANNELS
from mesalab.models.planner import REWARD_SCALE
from mesalab.models.policy import ActorCritic


def learned_objective(policy: torch.nn.Module) -> dict[str, float] | None:
    """The planner's reward weight per input channel: the mesa-objective read off the weights."""
    if (
        not isinstance(policy, ActorCritic)
        or policy.cfg.arch != "planner"
        or policy.cfg.obs_mode != "symbolic"
    ):
        return None
    names = [c for c in CHANNELS if c != "agent"]
    weights = policy.torso.planner.reward.weight.detach().flatten().cpu() * REWARD_SCALE  # type: ignore[union-attr,operator]
    return {name: float(w) for name, w in zip(names, weights, strict=True)}
