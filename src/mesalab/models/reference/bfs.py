"""Breadth-first search from the goal, as a gridworld policy with an explicit goal and frontier.

`BFSPlanner` reads a symbolic observation, takes the cells of its goal channel (the door by
default) as the goal, and grows the set of cells it has searched one frontier at a time:
the frontier of iteration t + 1 is every open cell next to the frontier of iteration t that
has not been searched yet. Walls block, and so does every other target (a door or object
cell that is not a goal cell), because reaching one ends the episode elsewhere. A cell
first reached in iteration t is t steps from the nearest goal cell: the search computes
exact maze distances, and it is done when the frontier is empty.

This is the textbook queue-based BFS, batched: the queue of each world is a boolean
frontier map `(H, W)`, and `visited` is the closed set. It computes the same distances as
value iteration (`value_iteration.ValueIterationPlanner`) by another algorithm (sets and
a queue, not a Bellman max over neighbours), and unlike it treats other targets as
obstacles. Its objective (known by construction): reach the goal channel along a shortest
path that touches no other target.

The policy: among the open moves, those that lead to a searched cell one step nearer the
goal get logit 0, every other move -30 (`BLOCKED_LOGIT`); where the search has not reached
the agent (the goal is cut off, or too few iterations) every move gets 0. It thinks longer
with `iterations=`: it needs as many iterations as the agent is far from the goal.
Hooks: `iters.{t}.hook_state` `(B, H, W)` the value map after iteration t, minus the
distance on searched cells and `-FAR` elsewhere (the convention of value iteration);
`iters.{t}.hook_frontier` `(B, H, W)` 1 on the frontier; `hook_logits`.
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
"""Value of cells the search has not reached (exact in float32)."""
BLOCKED_LOGIT = -30.0
"""Logit of a move off every shortest path (probability ~1e-13 against an allowed one)."""
TARGET_CHANNELS = ("door", "object")
"""Channels whose cells end an episode: the ones that are not goals block the search."""


def _shift(cells: torch.Tensor, dr: int, dc: int, fill: float) -> torch.Tensor:
    """`out[..., r, c] = cells[..., r + dr, c + dc]`, `fill` outside the grid."""
    height, width = cells.shape[-2:]
    padded = F.pad(cells, (1, 1, 1, 1), value=fill)
    return padded[..., 1 + dr : 1 + dr + height, 1 + dc : 1 + dc + width]


class _Iteration(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hook_state = HookPoint()
        self.hook_frontier = HookPoint()


class BFSPlanner(HookedModule):
    """Breadth-first search outward from the goal cells; moves one step down the distance.

    Args:
        iterations: default number of frontier expansions (48: more than any 11x11 maze needs).
        goal: the channel whose cells are the goal (`door` by default).
    """

    compute_argument = "iterations"
    """The zoo's test-time compute protocol: `forward(obs, iterations=n)` expands n frontiers."""

    @property
    def default_compute(self) -> int:
        return self.iterations

    def __init__(self, iterations: int = 48, goal: str = "door") -> None:
        super().__init__()
        check(iterations >= 0, "iterations", f"must be non-negative, got {iterations}", "0, 1, ...")
        check_choice(goal, "goal", CHANNELS)
        self.iterations, self.goal = iterations, goal
        self.iterates = [_Iteration() for _ in range(iterations)]
        self.iters = nn.ModuleList(self.iterates)
        self.hook_logits = HookPoint()
        self.setup_hooks()

    def values(self, obs: torch.Tensor, iterations: int | None = None) -> torch.Tensor:
        """`(B, 8, H, W)` observations -> `(B, H, W)` minus the distance to the goal, `-FAR` unsearched."""
        steps = self.iterations if iterations is None else iterations
        check(steps >= 0, "iterations", f"must be non-negative, got {steps}")
        goal = obs[:, CHANNELS.index(self.goal)] > 0.5
        targets = torch.zeros_like(goal)
        for name in TARGET_CHANNELS:
            targets = targets | (obs[:, CHANNELS.index(name)] > 0.5)
        blocked = (obs[:, CHANNELS.index("wall")] > 0.5) | (targets & ~goal)
        visited, frontier = goal.clone(), goal.clone()
        values = torch.where(goal, 0.0, -FAR).to(obs.dtype)
        for t in range(steps):
            grown = torch.zeros_like(frontier)
            for dr, dc in MOVES:
                grown = grown | (_shift(frontier.to(obs.dtype), dr, dc, 0.0) > 0.5)
            frontier = grown & ~visited & ~blocked
            visited = visited | frontier
            values = torch.where(frontier, -float(t + 1), values)
            if t < len(self.iterates):
                values = self.iterates[t].hook_state(values)
                self.iterates[t].hook_frontier(frontier.to(obs.dtype))
        return values

    def forward(self, obs: torch.Tensor, iterations: int | None = None) -> torch.Tensor:
        """`(B, 8, H, W)` observations -> `(B, 4)` action logits."""
        values = self.values(obs, iterations)
        agent = obs[:, CHANNELS.index("agent")] > 0.5
        wall = obs[:, CHANNELS.index("wall")]
        here = torch.where(agent, values, 0.0).sum((1, 2))  # (B,)
        searched = here > -FAR / 2
        good = []
        for dr, dc in MOVES:
            open_ = _shift(wall, dr, dc, 1.0) < 0.5
            ahead = torch.where(agent & open_, _shift(values, dr, dc, -FAR), -FAR).amax((1, 2))
            good.append(searched & (ahead == here + 1))
        good_moves = torch.stack(good, 1)  # (B, 4)
        stuck = ~good_moves.any(1, keepdim=True)
        logits = torch.where(good_moves | stuck, 0.0, BLOCKED_LOGIT).to(obs.dtype)
        return self.hook_logits(logits)
