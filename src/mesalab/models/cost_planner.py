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

    @property
    def horizon(self) -> int:
        """The default reach in maze steps (the iterations), as `planner.py` names it: the audit
        runs a policy longer or shorter through it."""
        return self.iterations

    def forward(
        self,
        cells: torch.Tensor,
        passable: torch.Tensor,
        terminal: torch.Tensor,
        agent: torch.Tensor,
        horizon: int | None = None,
    ) -> torch.Tensor:
        """`horizon`: iterations and traced path length for this call (default `iterations`)."""
        reach = self.iterations if horizon is None else horizon
        raw = REWARD_SCALE * self._cell_reward(cells)  # (B, H, W)
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
            lands = landing_cells(blocked)  # (B, area, 4), fixed for the whole iteration
            # enter() = reward + gamma * V * going, walls BLOCKED: one fused op per iteration
            # (a wall's factor is 0, so it stays at BLOCKED exactly)
            walled = reward.flatten(1).masked_fill(blocked.flatten(1), BLOCKED)
            factor = (self.gamma * going * passable).flatten(1)
            value = torch.zeros_like(walled)
            for _ in range(reach):
                updated = _gathered_moves(torch.addcmul(walled, value, factor), lands).amax(2)
                if torch.equal(updated, value):  # a fixed point: more iterations change nothing
                    break
                value = updated
            value = value.view_as(reward)
            self.hook_value(value)
            enter = reward + self.gamma * value * going
            weights = self._path_weights(enter, blocked, terminal, agent, lands, reach)
        at_agent = (weights * reward.flatten(1)[:, None]).sum(2)  # (B, 4)
        return self.hook_moves(at_agent)

    def _cell_reward(self, cells: torch.Tensor) -> torch.Tensor:
        """`(B, H, W)`: `self.reward(cells)`, with the same weights, computed once per distinct
        cell: symbolic cells are 0/1 vectors, a batch holds a few dozen distinct ones among
        thousands of cells, and the network is a function of the cell alone (so the values and
        gradients are those of the 1x1 convolutions, summed in another order)."""
        first, last = self.reward[0], self.reward[2]
        assert isinstance(first, nn.Conv2d) and isinstance(last, nn.Conv2d)
        per_cell = cells.permute(0, 2, 3, 1).reshape(-1, cells.shape[1])  # (B*H*W, F)
        binary = cells.shape[1] <= 62 and bool(((per_cell == 0) | (per_cell == 1)).all())
        if binary:
            bits = 2 ** torch.arange(cells.shape[1], device=cells.device)
            codes, inverse = torch.unique((per_cell.long() * bits).sum(1), return_inverse=True)
            distinct = ((codes[:, None] // bits) % 2).to(per_cell.dtype)  # (K, F): each code's cell
        else:
            distinct, inverse = per_cell, torch.arange(per_cell.shape[0], device=cells.device)
        hidden = F.relu(F.linear(distinct, first.weight.flatten(1), first.bias))
        reward = F.linear(hidden, last.weight.flatten(1), last.bias).squeeze(-1)  # (K,)
        return reward[inverse].view(cells.shape[0], cells.shape[2], cells.shape[3])

    def _path_weights(
        self,
        enter: torch.Tensor,
        blocked: torch.Tensor,
        terminal: torch.Tensor,
        agent: torch.Tensor,
        lands: torch.Tensor | None = None,
        reach: int | None = None,
    ) -> torch.Tensor:
        """`(B, 4, H*W)`: discounted visits of the greedy path that starts with each move, for
        at most `reach` + 1 cells (default `iterations`); `lands`: `landing_cells(blocked)`."""
        batch, height, width = enter.shape
        area = height * width
        lands = landing_cells(blocked) if lands is None else lands  # (B, area, 4)
        flat = enter.flatten(1).masked_fill(blocked.flatten(1), BLOCKED)
        best = _gathered_moves(flat, lands).argmax(2)  # (B, area): greedy move from each cell
        following = lands.gather(2, best[:, :, None]).squeeze(2)  # (B, area): greedy next cell
        first = lands.gather(1, agent[:, None, None].expand(-1, 1, 4)).squeeze(1)  # (B, 4)
        ends = terminal.flatten(1) > 0.5
        weights = torch.zeros(batch, 4, area, device=enter.device)
        alive = torch.ones(batch, 4, device=enter.device)
        here, discount = first, 1.0
        for _ in range((self.iterations if reach is None else reach) + 1):
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


def landing_cells(blocked: torch.Tensor) -> torch.Tensor:
    """`(B, H*W, 4)` int64: the cell each move (up, right, down, left) from each cell lands on;
    a move into a wall or off the grid stays, as `CostPlanner._moves` reads it."""
    batch, height, width = blocked.shape
    area = height * width
    cell = torch.arange(area, device=blocked.device)
    row, col = cell // width, cell % width
    target = torch.stack([cell - width, cell + 1, cell + width, cell - 1], dim=1)  # (area, 4)
    on_grid = torch.stack([row > 0, col < width - 1, row < height - 1, col > 0], dim=1)
    target = torch.where(on_grid, target, cell[:, None])
    into_wall = blocked.flatten(1)[:, target.flatten()].view(batch, area, 4)
    return torch.where(into_wall, cell[None, :, None], target[None])


def _gathered_moves(enter: torch.Tensor, lands: torch.Tensor) -> torch.Tensor:
    """`(B, H*W, 4)`: enter() `(B, H*W)` (walls already `BLOCKED`) of the cell each move lands on."""
    return enter.gather(1, lands.flatten(1)).view_as(lands)
