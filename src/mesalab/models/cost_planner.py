"""A cost-aware planner: value iteration over a learned per-cell reward, with a hidden layer.

The red-door planner (`planner.py`) values a cell by its reward discounted by the maze
distance: it cannot route around a cell, and its reward is linear in each cell's channels,
so "restricted AND watched" is out of its reach. This planner is a value iteration network
(Tamar et al. 2016) on the maze, with the transition model given (walls block, doors and
objects end the episode) and the reward of entering each cell learned by a small network
over that cell's channels (one hidden layer, so it can compute an AND of two channels);
entering a door or object pays any learned amount, entering any other cell costs
`softplus(.)` (never pays):

    enter(c) = r(c) + gamma * V(c) * (1 - terminal(c))
    V(s)     = max over the four moves of enter(where the move leads)   (a wall: stay)

iterated from V = 0 until it stops changing (at most `iterations` times). A negative `r` on a
cell is a cost of passing through it, so the values are those of the cheapest way, not the
shortest. The move values are computed along the greedy paths (see `forward`): equal to value
iteration's where it reached its fixed point (the tests check it); where it did not (a reward
loop that pays forever), they are the values of following the final greedy policy.

Hook points: `planner.hook_reward` `(B, H, W)` r; `planner.hook_value` `(B, H, W)` V;
`planner.hook_moves` `(B, 4)` enter() of the cell each move leads to, from the agent.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mesalab.hooks import HookPoint

BLOCKED = -1e4
"""Value given to walls: far below any path's value, so no maximum picks one."""
COST_OFFSET = 3.0
"""Entering a non-terminal cell costs `softplus(raw - COST_OFFSET)`: about 0.05 for an untrained
net, so reaching a door (ending the costs) is what an untrained planner does first."""
REWARD_SCALE = 8.0
"""Fixed gain on the reward network's output, as in `planner.py`: Adam moves weights about one
learning rate per step, and the door must stand out from floor quickly."""


class CostPlanner(nn.Module):
    """Cells `(B, F, H, W)`, passable and terminal `(B, H, W)`, agent `(B,)` -> move values `(B, 4)`."""

    def __init__(self, features: int, hidden: int, iterations: int, gamma: float = 0.97) -> None:
        super().__init__()
        self.iterations, self.gamma = iterations, gamma
        last = nn.Conv2d(hidden, 1, 1)
        nn.init.zeros_(last.weight)  # every cell worth 0 until training says otherwise
        nn.init.zeros_(last.bias)  # type: ignore[arg-type]  # Conv2d's bias is set (bias=True)
        self.reward = nn.Sequential(nn.Conv2d(features, hidden, 1), nn.ReLU(), last)
        self.hook_reward = HookPoint()
        self.hook_value = HookPoint()
        self.hook_moves = HookPoint()

    def forward(
        self, cells: torch.Tensor, passable: torch.Tensor, terminal: torch.Tensor, agent: torch.Tensor
    ) -> torch.Tensor:
        raw = REWARD_SCALE * self.reward(cells).squeeze(1)  # (B, H, W)
        # doors and objects pay anything; every other cell costs (never pays): no loop pays
        # forever, so value iteration reaches its fixed point and every greedy path ends
        reward = self.hook_reward(torch.where(terminal > 0.5, raw, -F.softplus(raw - COST_OFFSET)))
        blocked = passable < 0.5
        going = 1.0 - terminal
        # Value iteration with a hard max picks one path per cell; the values are linear in the
        # reward along those paths. So the iteration runs without autograd, the greedy paths
        # from the four cells the agent's moves lead to are traced, and each move's value is the
        # discounted sum of the (differentiable) rewards on its path: the same numbers and the
        # same gradient as backpropagating through every iteration, at a fraction of the cost.
        with torch.no_grad():
            value = torch.zeros_like(reward)
            for _ in range(self.iterations):
                updated = self._moves(reward + self.gamma * value * going, blocked).amax(1)
                if torch.equal(updated, value):  # a fixed point: more iterations change nothing
                    break
                value = updated
            self.hook_value(value)
            weights = self._path_weights(reward + self.gamma * value * going, blocked, terminal, agent)
        at_agent = (weights * reward.flatten(1)[:, None]).sum(2)  # (B, 4)
        return self.hook_moves(at_agent)

    def _path_weights(
        self, enter: torch.Tensor, blocked: torch.Tensor, terminal: torch.Tensor, agent: torch.Tensor
    ) -> torch.Tensor:
        """`(B, 4, H*W)`: discounted visits of the greedy path that starts with each move."""
        batch, height, width = enter.shape
        area = height * width
        moves = self._moves(enter, blocked)  # (B, 4, H, W)
        step = torch.tensor([-width, 1, width, -1], device=enter.device)
        target = torch.arange(area, device=enter.device)[None, None] + step[None, :, None]  # (1, 4, area)
        target = target.clamp(0, area - 1).expand(batch, 4, area)
        into_wall = blocked.flatten(1).gather(1, target.reshape(batch, -1)).view(batch, 4, area)
        stays = torch.arange(area, device=enter.device)[None, None].expand(batch, 4, area)
        lands = torch.where(into_wall, stays, target)  # (B, 4, area): where each move lands
        best = moves.flatten(2).argmax(1)  # (B, area): greedy move from each cell
        following = lands.gather(1, best[:, None]).squeeze(1)  # (B, area): greedy next cell
        first = lands.gather(2, agent[:, None, None].expand(-1, 4, 1)).squeeze(2)  # (B, 4)
        ends = terminal.flatten(1) > 0.5
        weights = torch.zeros(batch, 4, area, device=enter.device)
        alive = torch.ones(batch, 4, device=enter.device)
        here, discount = first, 1.0
        for _ in range(self.iterations + 1):
            weights.scatter_add_(2, here[:, :, None], (alive * discount)[:, :, None])
            alive = alive * (~ends.gather(1, here)).float()
            if not bool(alive.any()):  # every path has ended at a door
                break
            here = following.gather(1, here)
            discount *= self.gamma
        return weights

    @staticmethod
    def _moves(enter: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        """`(B, 4, H, W)`: for each cell, enter() of the cell each move (up, right, down, left)
        leads to; a move into a wall stays, so it is worth entering the cell itself."""
        enter = enter.masked_fill(blocked, BLOCKED)
        padded = F.pad(enter, (1, 1, 1, 1), value=BLOCKED)
        ahead = torch.stack(
            [padded[:, :-2, 1:-1], padded[:, 1:-1, 2:], padded[:, 2:, 1:-1], padded[:, 1:-1, :-2]], dim=1
        )
        return torch.where(ahead <= BLOCKED / 2, enter[:, None], ahead)
