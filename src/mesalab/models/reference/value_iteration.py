"""Value iteration as a fixed-weight recurrent net over symbolic gridworld observations.

The state is a value map `V` `(B, H, W)`: 0 on goal cells, `-FAR` elsewhere at first. Each
iteration takes, per cell, the max of its own value and its four neighbours' values minus
one, built from `max(a, b) = b + relu(a - b)` (tensor ops only, no `torch.max`), then pins
goal cells to 0 and walls to `-FAR`. After t iterations every cell within t steps of a goal
holds minus its BFS distance (`oracle.grid_distances` over the non-wall cells); cells further
away (or cut off) hold `-FAR`. Walls block; other targets do not (in `red-door/train` there
are none). Values are small integers, so float32 arithmetic is exact.

The action logits are, for each move, the value of the cell it leads to (the agent's own
cell when a wall or the border blocks it) minus the agent's value: +1 downhill towards the
goal, 0 for blocked moves and everywhere the values have not reached the agent yet.
The planner "thinks longer" with `iterations=`: it needs as many iterations as the agent
is far from the goal.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mesalab.config import check, check_choice
from mesalab.envs.gridworld.observations import CHANNELS
from mesalab.envs.gridworld.oracle import MOVES
from mesalab.hooks import HookedModule, HookPoint

FAR = 10_000.0
"""Value of walls and of cells the propagation has not reached (exact in float32)."""


def relu_max(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Elementwise `max(a, b)` as `b + relu(a - b)`."""
    return b + torch.relu(a - b)


def _neighbour(values: torch.Tensor, dr: int, dc: int, fill: float) -> torch.Tensor:
    """`out[..., r, c] = values[..., r + dr, c + dc]`, `fill` outside the grid."""
    height, width = values.shape[-2:]
    padded = F.pad(values, (1, 1, 1, 1), value=fill)
    return padded[..., 1 + dr : 1 + dr + height, 1 + dc : 1 + dc + width]


class _Iteration(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hook_state = HookPoint()


class ValueIterationPlanner(HookedModule):
    """Propagates minus the distance to the goal for T iterations and moves uphill in value.

    Args:
        iterations: default number of iterations T.
        goal: a channel name (default `door`) or a weight vector `(8,)` over `CHANNELS`;
            a cell is a goal where the weighted sum of its channels exceeds 0.5.
    Hooks: `iters.{t}.hook_state` (the value map after iteration t, for t < `iterations`;
    extra iterations from a larger `iterations=` override run the same step unhooked),
    `hook_logits`.
    """

    goal_weights: torch.Tensor
    compute_argument = "iterations"
    """The zoo's test-time compute protocol: `forward(obs, iterations=n)` thinks n steps."""

    @property
    def default_compute(self) -> int:
        return self.iterations

    def __init__(self, iterations: int, goal: str | torch.Tensor = "door") -> None:
        super().__init__()
        check(iterations >= 0, "iterations", f"must be non-negative, got {iterations}", "0, 1, ...")
        if isinstance(goal, str):
            check_choice(goal, "goal", CHANNELS)
            weights = torch.zeros(len(CHANNELS))
            weights[CHANNELS.index(goal)] = 1.0
        else:
            check(goal.shape == (len(CHANNELS),), "goal", f"must be ({len(CHANNELS)},) channel weights")
            weights = goal.detach().clone().float()
        self.register_buffer("goal_weights", weights)
        self.iterations = iterations
        self.iterates = [_Iteration() for _ in range(iterations)]
        self.iters = nn.ModuleList(self.iterates)
        self.hook_logits = HookPoint()
        self.setup_hooks()

    def values(self, obs: torch.Tensor, iterations: int | None = None) -> torch.Tensor:
        """`(B, 8, H, W)` observations -> `(B, H, W)` values after T iterations."""
        steps = self.iterations if iterations is None else iterations
        check(steps >= 0, "iterations", f"must be non-negative, got {steps}")
        goal = (torch.einsum("c,bchw->bhw", self.goal_weights, obs) > 0.5).to(obs.dtype)
        wall = (obs[:, CHANNELS.index("wall")] > 0.5).to(obs.dtype) * (1 - goal)
        keep = (1 - wall) * (1 - goal)  # cells whose value the propagation sets
        values = goal * FAR - FAR
        for t in range(steps):
            best = values
            for dr, dc in MOVES:
                best = relu_max(_neighbour(values, dr, dc, -FAR) - 1, best)
            values = keep * (best + FAR) - FAR + goal * FAR
            if t < len(self.iterates):
                values = self.iterates[t].hook_state(values)
        return values

    def forward(self, obs: torch.Tensor, iterations: int | None = None) -> torch.Tensor:
        """`(B, 8, H, W)` observations -> `(B, 4)` action logits."""
        values = self.values(obs, iterations)
        agent = obs[:, CHANNELS.index("agent")]
        wall = obs[:, CHANNELS.index("wall")]
        logits = []
        for dr, dc in MOVES:
            open_ = 1 - _neighbour(wall, dr, dc, 1.0)  # 0 where the move is blocked
            ahead = _neighbour(values, dr, dc, -FAR)
            logits.append((agent * open_ * (ahead - values)).sum((1, 2)))
        return self.hook_logits(torch.stack(logits, 1))
