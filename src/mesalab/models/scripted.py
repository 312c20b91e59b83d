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
from mesalab.envs.gridworld.oracle import UNREACHABLE, optimal_actions, target_distances
from mesalab.envs.gridworld.state import NO_TARGET, GridState

BLOCKED_LOGIT = -30.0
"""Logit of an action the script rules out (probability ~1e-13 against an allowed one)."""


def decode_symbolic(obs: torch.Tensor) -> GridState:
    """Rebuild the visible state from `(B, 8, H, W)` symbolic observations.

    The start cell is not visible, so `start` is the current cell and `start_dist` the
    maze distance from it (ignoring other targets).
    """
    batch, _, size, _ = obs.shape
    flat = obs.flatten(2) > 0.5  # (B, C, H*W)
    walls, agent_map, door, objects = flat[:, 0], flat[:, 1], flat[:, 2], flat[:, 3]
    agent = agent_map.float().argmax(1)
    num_objects = int(objects.sum(1).max()) if batch else 0
    cells = torch.arange(size * size, device=obs.device)
    door_cell = torch.where(door.any(1), door.float().argmax(1), NO_TARGET)
    order = torch.where(objects, cells, size * size).sort(1).values[:, :num_objects]
    object_cells = torch.where(order < size * size, order, NO_TARGET)
    targets = torch.cat([door_cell[:, None], object_cells], 1)
    colour_planes = flat[:, 4:].float()  # (B, colours, H*W)
    colour_at = colour_planes.gather(
        2, targets.clamp_min(0)[:, None, :].expand(-1, colour_planes.shape[1], -1)
    )
    colours = torch.where(targets >= 0, colour_at.argmax(1), NO_TARGET)
    state = GridState(
        size=size,
        walls=walls,
        agent=agent,
        start=agent.clone(),
        targets=targets,
        colours=colours,
        start_dist=torch.zeros_like(targets, dtype=torch.int32),
        steps=torch.zeros_like(agent),
    )
    dist = target_distances(state.grid(walls), targets).flatten(2)  # (B, T, H*W)
    state.start_dist = dist.gather(2, agent[:, None, None].expand(-1, targets.shape[1], 1)).squeeze(2)
    return state


def goal_distance(state: GridState, goal_slots: torch.Tensor) -> torch.Tensor:
    """`(B, H, W)` distance to the nearest slot in `goal_slots` `(B, T)` bool, others blocked."""
    dist = target_distances(state.grid(state.walls), state.targets)
    masked = torch.where(goal_slots[:, :, None, None], dist, UNREACHABLE)
    return masked.min(1).values if masked.shape[1] else torch.full_like(dist[:, 0], UNREACHABLE)


def moves_towards(state: GridState, goal_slots: torch.Tensor) -> torch.Tensor:
    """`(B, 4)` bool: the moves on a shortest path from the agent to the nearest goal slot."""
    dist = goal_distance(state, goal_slots)
    good = optimal_actions(state.grid(state.walls), dist)  # (B, 4, H, W)
    return good.flatten(2).gather(2, state.agent[:, None, None].expand(-1, 4, 1)).squeeze(2)


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
