"""Batched BFS on grids: distances from every cell to every target, and the optimal moves.

Distances come from repeated min-plus relaxation over the four neighbours, all grids of
the batch at once; the loop runs once per distance ring, never once per world.
`goal_distance` and `moves_towards` ask the same of a `GridState` and a set of goal slots.
"""

from __future__ import annotations

import torch

from mesalab.envs.gridworld.state import GridState

UNREACHABLE = 1 << 20
"""Distance given to cells from which a target cannot be reached."""

MOVES: tuple[tuple[int, int], ...] = ((-1, 0), (0, 1), (1, 0), (0, -1))
"""Row and column change of each action: 0 up, 1 right, 2 down, 3 left."""


def grid_distances(free: torch.Tensor, sources: torch.Tensor) -> torch.Tensor:
    """Shortest 4-connected path length from each cell to the nearest source.

    Args:
        free: `(N, H, W)` bool, cells a path may pass through.
        sources: `(N, H, W)` bool, cells at distance 0 (need not be free).
    Returns:
        `(N, H, W)` int32; `UNREACHABLE` where no source can be reached.
    """
    batch, height, width = sources.shape
    dist = torch.where(sources, 0, UNREACHABLE).to(torch.int32)
    relax = free & ~sources
    padded = torch.full((batch, height + 2, width + 2), UNREACHABLE, dtype=torch.int32, device=dist.device)
    inner = padded[:, 1:-1, 1:-1]
    while True:
        inner.copy_(dist)
        nearest = torch.minimum(
            torch.minimum(padded[:, :-2, 1:-1], padded[:, 2:, 1:-1]),
            torch.minimum(padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]),
        )
        updated = torch.where(relax, torch.minimum(dist, nearest + 1), dist)
        if torch.equal(updated, dist):
            return dist.clamp_max(UNREACHABLE)
        dist = updated


def target_distances(walls: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Distance from every cell to every target, treating the other targets as blocked.

    Any target ends the episode, so a path to target t may not pass through another one.

    Args:
        walls: `(B, H, W)` bool.
        targets: `(B, T)` int64 flat cell indices, -1 for an absent slot.
    Returns:
        `(B, T, H, W)` int32; all `UNREACHABLE` for absent slots.
    """
    batch, height, width = walls.shape
    num_targets = targets.shape[1]
    present = targets >= 0
    flat = torch.zeros(batch, num_targets, height * width, dtype=torch.bool, device=walls.device)
    flat.scatter_(2, targets.clamp_min(0)[:, :, None], present[:, :, None])
    target_cells = flat.view(batch, num_targets, height, width)
    any_target = target_cells.any(dim=1, keepdim=True)
    free = ~walls[:, None] & ~any_target  # (B, 1, H, W): no target is passable...
    free = free | target_cells  # ...except the target being measured, which is the source
    dist = grid_distances(
        free.expand(batch, num_targets, height, width).reshape(-1, height, width),
        target_cells.reshape(-1, height, width),
    )
    return dist.view(batch, num_targets, height, width)


def optimal_actions(walls: torch.Tensor, distance: torch.Tensor) -> torch.Tensor:
    """Which moves lower the distance to the goal, per cell.

    Args:
        walls: `(B, H, W)` bool.
        distance: `(B, H, W)` int32 distance to the goal (as from `grid_distances`).
    Returns:
        `(B, 4, H, W)` bool: action a at a cell is optimal when it reaches a cell one step
        nearer. Moves into walls keep the agent in place, so they are never optimal.
    """
    return next_cell_values(walls, distance) == (distance - 1)[:, None]


def fill_rounds(distance: torch.Tensor) -> torch.Tensor:
    """`(B, H, W)` maze distances to the exit -> `(B, H, W)` int64: the round of dead-end filling
    at which each floor cell becomes a dead end and is removed (the exit, distance 0, is the root
    and is never removed: round 0; walls `UNREACHABLE`). In a perfect maze a removed cell's one
    remaining neighbour is its way to the exit, so its move is known by that round, exit or not."""
    floor = distance < UNREACHABLE
    exit_cell = distance == 0
    alive = floor.clone()
    rounds = torch.full(floor.shape, UNREACHABLE, dtype=torch.int64, device=floor.device)
    r = 1
    while True:
        degree = sum(_shift(alive.to(torch.int8), dr, dc) for dr, dc in MOVES)
        leaves = alive & ~exit_cell & (degree <= 1)
        if not bool(leaves.any()):
            break
        rounds[leaves] = r
        alive &= ~leaves
        r += 1
    rounds[exit_cell] = 0
    return rounds


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


def next_cell_values(walls: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """`values` at the cell each action leads to (the same cell when a wall blocks it).

    Args:
        walls: `(B, H, W)` bool.
        values: `(B, H, W)` any dtype.
    Returns:
        `(B, 4, H, W)`.
    """
    out = values[:, None].repeat(1, 4, 1, 1)
    blocked = walls
    for action, (dr, dc) in enumerate(MOVES):
        shifted = _shift(values, dr, dc)
        shifted_wall = _shift(blocked, dr, dc, fill=True)
        out[:, action] = torch.where(shifted_wall, values, shifted)
    return out


def _shift(x: torch.Tensor, dr: int, dc: int, fill: bool | int = 0) -> torch.Tensor:
    """`out[r, c] = x[r + dr, c + dc]`, `fill` outside the grid."""
    out = torch.full_like(x, fill)
    height, width = x.shape[-2:]
    rows_out = slice(max(-dr, 0), height - max(dr, 0))
    rows_in = slice(max(dr, 0), height - max(-dr, 0))
    cols_out = slice(max(-dc, 0), width - max(dc, 0))
    cols_in = slice(max(dc, 0), width - max(-dc, 0))
    out[..., rows_out, cols_out] = x[..., rows_in, cols_in]
    return out
