"""Scripted policies with known objectives, reading only the symbolic observation.

`GoalSeeker("exit")` walks a shortest path to the exit; `GoalSeeker("red")` to the
nearest red target; `UniformRandom()` gives equal logits; `CornerSeeker("bottom-right")`
walks to a fixed corner of the maze, a goal no candidate objective names. They are `nn.Module`s without
weights that map observations to action logits, so everything that takes a policy
(assessment, inference, detectors) takes them too, and their objective is known.
"""

from __future__ import annotations

import torch
from torch import nn

from mesalab.envs.gridworld.objectives import OBJECTIVES
from mesalab.envs.gridworld.observations import decode_symbolic
from mesalab.envs.gridworld.oracle import grid_distances, moves_towards, optimal_actions
from mesalab.envs.gridworld.state import GridState

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


class CornerSeeker(nn.Module):
    """Walks a shortest path to a fixed corner of the maze (the open cell nearest to it), around
    every target, and wanders next to it once there: a competent policy whose goal no
    candidate objective names (issue 12, the unlisted goal)."""

    CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")

    def __init__(self, corner: str = "bottom-right") -> None:
        super().__init__()
        if corner not in self.CORNERS:
            raise ValueError(f"corner must be one of {self.CORNERS}, got {corner!r}")
        self.corner = corner

    def goal_cell(self, state: GridState) -> torch.Tensor:
        """`(B,)` flat index of the open, target-free cell nearest (Manhattan) to the corner."""
        size = state.size
        cells = torch.arange(size * size, device=state.agent.device)
        row, col = cells // size, cells % size
        want_r = size - 1 if self.corner.startswith("bottom") else 0
        want_c = size - 1 if self.corner.endswith("right") else 0
        far = ((row - want_r).abs() + (col - want_c).abs()).float()[None].expand(state.batch_size, -1)
        blocked = state.walls.clone()
        present = state.targets >= 0
        blocked.scatter_(
            1, state.targets.clamp_min(0), present | blocked.gather(1, state.targets.clamp_min(0))
        )
        return torch.where(blocked, float("inf"), far).argmin(1)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        state = decode_symbolic(obs)
        size = state.size
        goal = self.goal_cell(state)
        free = ~state.walls.clone()
        present = state.targets >= 0
        free.scatter_(1, state.targets.clamp_min(0), ~present & free.gather(1, state.targets.clamp_min(0)))
        sources = torch.zeros_like(free)
        sources[torch.arange(goal.shape[0]), goal] = True
        dist = grid_distances(free.view(-1, size, size), sources.view(-1, size, size))
        good = optimal_actions(state.walls.view(-1, size, size), dist)  # (B, 4, H, W)
        at_agent = good.flatten(2).gather(2, state.agent[:, None, None].expand(-1, 4, 1)).squeeze(2)
        stuck = ~at_agent.any(1, keepdim=True)
        return torch.where(at_agent | stuck, 0.0, BLOCKED_LOGIT)
