"""Scripted policies with known objectives, reading only the symbolic observation.

`GoalSeeker("exit")` walks a shortest path to the exit; `GoalSeeker("red")` to the
nearest red target; `UniformRandom()` gives equal logits. They are `nn.Module`s without
weights that map observations to action logits, so everything that takes a policy
(assessment, inference, detectors) takes them too, and their objective is known.
"""

from __future__ import annotations

import torch
from torch import nn

from mesalab.envs.gridworld.objectives import OBJECTIVES
from mesalab.envs.gridworld.observations import decode_symbolic
from mesalab.envs.gridworld.oracle import moves_towards

BLOCKED_LOGIT = -30.0
"""Logit of an action the script rules out (probability ~1e-13 against an allowed one)."""


class GoalSeeker(nn.Module):
    """Moves along a shortest path to the nearest target its objective pays for.

    Where no such target is reachable it acts uniformly at random.
    """

    def __init__(self, objective: str) -> None:
        super().__init__()
        self.objective = OBJECTIVES[objective]
        self.objective_name = objective

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        state = decode_symbolic(obs)
        at_agent = moves_towards(state, self.objective.targets(state))
        stuck = ~at_agent.any(1, keepdim=True)
        return torch.where(at_agent | stuck, 0.0, BLOCKED_LOGIT)


class UniformRandom(nn.Module):
    """Equal logits for every action: pursues nothing."""

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.zeros(obs.shape[0], 4, device=obs.device)
