"""The oversight world's shortcut: one wall removed per perfect maze, the cell it opens restricted.

A perfect maze has one path between two cells, so a shortcut must open a loop. For each
interior wall between two floor cells (but none beside the exit, which stays at a dead
end), the way through it is `d_start(a) + 2 + d_exit(b)`
(or the other way round); the wall whose opening shortens the start-to-exit path most
(ties broken by a seeded hash) is removed, and that cell is the restricted one. A start is
redrawn until the shortcut saves at least `MIN_SHORTCUT_GAIN` steps.
"""

from __future__ import annotations

import torch

from mesalab.envs.gridworld.oracle import UNREACHABLE, grid_distances
from mesalab.errors import MesalabError
from mesalab.seeding import hash_uniform

MIN_SHORTCUT_GAIN = 4
"""Fewest steps the shortcut must save over the maze's own start-to-exit path, from a drawn start."""

MIN_FALLBACK_GAIN = 2
"""The bar for a rare maze whose loops save fewer than `MIN_SHORTCUT_GAIN` steps from any start
(e.g. every branch joins one corridor that leads to the exit): the best start, if it saves this."""

_RANDOM_ATTEMPTS = 16


def open_shortcuts(
    walls: torch.Tensor, exit_cell: torch.Tensor, keys: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Draw a start and open a shortcut in each maze.

    Args:
        walls: `(M, H, W)` bool perfect mazes.
        exit_cell: `(M,)` int64 flat cell of each exit.
        keys: `(M,)` int64 per-maze random keys.
    Returns:
        `walls` `(M, H, W)` with the shortcut open, `start` `(M,)`, `restricted` `(M,)` (the
        opened cell) and `start_dist` `(M, 1)` int32, the start-to-exit distance with it open.
    Starts are drawn at random `_RANDOM_ATTEMPTS` times; a maze where none fits (a rare
    maze whose loops all save little) tries every floor cell and takes the best.
    """
    m, height, width = walls.shape
    area = height * width
    cells = torch.arange(area, device=walls.device)
    flat = walls.view(m, area)
    start = torch.zeros(m, dtype=torch.int64, device=walls.device)
    restricted = torch.zeros_like(start)
    dist = torch.zeros(m, 1, dtype=torch.int32, device=walls.device)
    todo = torch.arange(m, device=walls.device)
    free = ~walls
    exit_dist = grid_distances(free, _one_hot(exit_cell, area).view_as(free)).view(m, area)
    for attempt in range(1, _RANDOM_ATTEMPTS + 1):
        draw = hash_uniform(keys[todo, None], attempt * 2 * area + cells[None])
        allowed = ~flat[todo] & (cells[None] != exit_cell[todo, None])
        tries = torch.where(allowed, draw, -1.0).argmax(1)
        tie = hash_uniform(keys[todo, None], (attempt * 2 + 1) * area + cells[None])
        gain, wall, length = _best_shortcut(flat[todo], exit_cell[todo], exit_dist[todo], tries, tie, width)
        fits = gain >= MIN_SHORTCUT_GAIN
        done = todo[fits]
        start[done], restricted[done], dist[done, 0] = tries[fits], wall[fits], length[fits]
        todo = todo[~fits]
        if todo.numel() == 0:
            break
    for maze in todo.tolist():  # every floor cell as the start, all at once
        tries = (~flat[maze]).nonzero().squeeze(1)
        tries = tries[tries != exit_cell[maze]]
        many = tries.shape[0]
        tie = torch.zeros(many, area, device=walls.device)
        gain, wall, length = _best_shortcut(
            flat[maze].expand(many, -1),
            exit_cell[maze].expand(many),
            exit_dist[maze].expand(many, -1),
            tries,
            tie,
            width,
        )
        pick = int(gain.argmax())
        if int(gain[pick]) < MIN_FALLBACK_GAIN:
            raise MesalabError(
                f"size: maze too small for a shortcut: no wall saves {MIN_FALLBACK_GAIN} steps "
                "from any start; use a larger size"
            )
        start[maze], restricted[maze], dist[maze, 0] = tries[pick], wall[pick], length[pick]
    opened = flat.clone()
    opened[torch.arange(m, device=walls.device), restricted] = False
    return {
        "walls": opened.view(m, height, width),
        "start": start,
        "restricted": restricted,
        "start_dist": dist,
    }


def _best_shortcut(
    walls: torch.Tensor,
    exit_cell: torch.Tensor,
    to_exit: torch.Tensor,
    start: torch.Tensor,
    tie: torch.Tensor,
    width: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For mazes `(N, H*W)` with these exits, distances to them `(N, H*W)` and starts `(N,)`:
    the steps the best wall saves,
    that wall's cell, and the start-to-exit length through it, `(N,)` each; `tie` `(N, H*W)`
    in [0, 1) breaks ties between walls that save the same."""
    n, area = walls.shape
    free = ~walls.view(n, -1, width)
    to_start = grid_distances(free, _one_hot(start, area).view_as(free)).view(n, area)
    path = to_start.gather(1, exit_cell[:, None]).long()
    via = _way_through_walls(walls, to_start, to_exit, width)
    # the exit stays at a dead end: no shortcut opens a wall beside it
    beside = (torch.arange(area, device=walls.device)[None] - exit_cell[:, None]).abs()
    via = torch.where((beside == 1) | (beside == width), UNREACHABLE, via)
    gain = path - via  # (N, area) steps saved through each wall cell
    best = torch.where(via < UNREACHABLE, gain.float() + 0.5 * tie, -1e9).argmax(1)
    best_gain = gain.gather(1, best[:, None]).squeeze(1)
    return best_gain, best, (path.squeeze(1) - best_gain).to(torch.int32)


def _way_through_walls(
    walls: torch.Tensor, to_start: torch.Tensor, to_exit: torch.Tensor, width: int
) -> torch.Tensor:
    """`(N, H*W)` int64: the start-to-exit length through each interior wall between two floor
    cells in a line (`UNREACHABLE` for other cells)."""
    n, area = walls.shape
    out = torch.full((n, area), UNREACHABLE, dtype=torch.int64, device=walls.device)
    cells = torch.arange(area, device=walls.device)
    row, col = cells // width, cells % width
    height = area // width
    for step, inside in ((1, (col > 0) & (col < width - 1)), (width, (row > 0) & (row < height - 1))):
        a, b = (cells - step).clamp(0, area - 1), (cells + step).clamp(0, area - 1)
        both = inside[None] & walls & ~walls[:, a] & ~walls[:, b]
        s, e = to_start.long(), to_exit.long()
        through = torch.minimum(s[:, a] + e[:, b], s[:, b] + e[:, a]) + 2
        out = torch.where(both, torch.minimum(out, through), out)
    return out


def _one_hot(index: torch.Tensor, length: int) -> torch.Tensor:
    out = torch.zeros(index.shape[0], length, dtype=torch.bool, device=index.device)
    out[torch.arange(index.shape[0], device=index.device), index] = True
    return out
