"""A planning torso with a learned objective: value iteration evaluated where it is needed.

From each cell's features the network computes a log-reward map `log r(c)`: what it
wants, its mesa-objective, learned by the base optimizer. Its transition model is given
(walls block). The value of a cell is soft value iteration's fixed point with discount
`gamma` (fixed; a log-sum-exp over goals where hard value iteration takes the max),

    log V(s) = logsumexp_c [ log r(c) + d(s, c) * log gamma ],

with `d` the maze distance within `horizon` steps (farther cells are out of reach). The
policy needs V only at the agent's cell and the four cells a move leads to, so the
planner runs a breadth-first search from those five cells (without autograd: distances
have no parameters) and takes the log-sum-exp over cells with autograd, which sends
gradients to the reward of every reachable cell.

Hook points: `planner.hook_cells`, `planner.hook_reward` (log r, `(B, H, W)`),
`planner.hook_distance` `(B, 5, H, W)`, `planner.hook_value` (log V, `(B, 5)`).
"""

from __future__ import annotations

import functools
import math

import torch
from torch import nn

from mesalab.envs.gridworld.oracle import MOVES, grid_distances
from mesalab.hooks import HookPoint

BASELINE_LOG_REWARD = -10.0
"""Log-reward of a cell without features (empty floor): far below anything learned, so
the value is carried by the cells whose features the planner has learned to want."""
REWARD_SCALE = 8.0
"""Fixed gain on the log-reward map: Adam moves a weight about one learning rate per step,
and goals must stand out by several nats from empty floor, so the weights are scaled up."""
NO_VALUE = -30.0
"""Log-value of a cell from which nothing is reachable (a wall)."""


class ValuePlanner(nn.Module):
    """Cell features `(B, F, H, W)`, passable cells `(B, H, W)`, agent cell `(B,)` -> log-values `(B, 5)`."""

    def __init__(self, features: int, horizon: int, gamma: float = 0.9) -> None:
        super().__init__()
        self.horizon = horizon
        # no bias: a cell with no features (empty floor) has log-reward BASELINE_LOG_REWARD
        self.reward = nn.Conv2d(features, 1, kernel_size=1, bias=False)
        nn.init.zeros_(self.reward.weight)  # every cell equally attractive until training says otherwise
        self.register_buffer("log_gamma", torch.tensor(math.log(gamma)))
        self.hook_cells = HookPoint()
        self.hook_reward = HookPoint()
        self.hook_distance = HookPoint()
        self.hook_value = HookPoint()

    def forward(
        self, cells: torch.Tensor, passable: torch.Tensor, agent: torch.Tensor, horizon: int | None = None
    ) -> torch.Tensor:
        """Log-values at the agent's cell, then at the cell each move leads to (`NO_VALUE` for a wall)."""
        cells = self.hook_cells(cells)
        log_reward = BASELINE_LOG_REWARD + REWARD_SCALE * self.reward(cells).squeeze(1)
        log_reward = self.hook_reward(log_reward)  # (B, H, W)
        batch, height, width = log_reward.shape
        with torch.no_grad():
            origins = around_agent_cells(agent, height, width)  # (B, 5)
            open_origin = passable.flatten(1).gather(1, origins) > 0.5
            sources = torch.zeros(batch, 5, height * width, dtype=torch.bool, device=log_reward.device)
            sources.scatter_(2, origins[:, :, None], open_origin[:, :, None])
            free = (passable > 0.5)[:, None].expand(batch, 5, height, width)
            dist = grid_distances(free.reshape(-1, height, width), sources.view(-1, height, width))
            dist = dist.view(batch, 5, height, width)
        dist = self.hook_distance(dist)
        reach = self.horizon if horizon is None else horizon
        within = dist <= reach
        scores = log_reward[:, None] + dist.clamp_max(reach).float() * self.log_gamma  # (B, 5, H, W)
        scores = torch.where(within, scores, float("-inf")).flatten(2)
        log_value = torch.logsumexp(scores, dim=2).clamp_min(NO_VALUE)
        return self.hook_value(log_value)


@functools.cache
def _neighbour_table(height: int, width: int, device: torch.device) -> torch.Tensor:
    """`(area, 5)`: each cell, then its neighbour per move (itself where the move leaves the grid)."""
    cells = torch.arange(height * width)
    row, col = cells // width, cells % width
    index = [cells]
    for dr, dc in MOVES:
        r, c = row + dr, col + dc
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        index.append(torch.where(inside, r * width + c, cells))
    return torch.stack(index, 1).to(device)


def around_agent_cells(agent: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """`(B, 5)` flat cells: the agent's, then where each move leads."""
    return _neighbour_table(height, width, agent.device)[agent]


def around_agent(field: torch.Tensor, agent: torch.Tensor) -> torch.Tensor:
    """`(B, 5)`: `field (B, H, W)` at the agent's cell, then at the cell each move leads to."""
    _, height, width = field.shape
    return field.flatten(1).gather(1, around_agent_cells(agent, height, width))
