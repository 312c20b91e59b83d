"""The batched BFS oracle against a slow obvious Python BFS."""

from __future__ import annotations

import torch

from gridworld_helpers import bfs
from mesalab.envs.gridworld import GridWorld, get_distribution
from mesalab.envs.gridworld.oracle import (
    MOVES,
    UNREACHABLE,
    grid_distances,
    optimal_actions,
    target_distances,
)


def _random_grids(count: int, size: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(count, size, size, generator=gen) < 0.3


def test_grid_distances_match_python_bfs_on_random_grids() -> None:
    walls = _random_grids(12, 9, seed=0)
    sources = torch.zeros_like(walls)
    for k in range(12):
        sources[k, k % 9, (3 * k) % 9] = True
    dist = grid_distances(~walls, sources)
    for k in range(12):
        grid = walls[k].tolist()
        source = (k % 9, (3 * k) % 9)
        # the oracle lets a source be walled; the reference only starts there
        reference = bfs(grid, source)
        for r in range(9):
            for c in range(9):
                expected = reference.get((r, c), UNREACHABLE)
                assert int(dist[k, r, c]) == expected, (k, r, c)


def test_target_distances_treat_other_targets_as_blocked() -> None:
    world = GridWorld(get_distribution("red-door/deploy"), 8, seed=2)
    world.reset()
    state, size = world.state, world.spec.size
    walls = state.walls.view(-1, size, size)
    dist = target_distances(walls, state.targets)
    for i in range(8):
        grid = walls[i].tolist()
        cells = [divmod(int(t), size) for t in state.targets[i] if t >= 0]
        for slot, cell in enumerate(cells):
            others = set(cells) - {cell}
            reference = bfs(grid, cell, blocked=others)
            for r in range(size):
                for c in range(size):
                    expected = reference.get((r, c), UNREACHABLE)
                    assert int(dist[i, slot, r, c]) == expected
        for slot in range(len(cells), state.targets.shape[1]):
            assert bool((dist[i, slot] == UNREACHABLE).all()), "absent slots are unreachable"


def test_optimal_actions_step_one_closer() -> None:
    world = GridWorld(get_distribution("red-door/train"), 6, seed=4)
    world.reset()
    size = world.spec.size
    walls = world.state.walls.view(-1, size, size)
    dist = target_distances(walls, world.state.targets)[:, 0]
    best = optimal_actions(walls, dist)
    for i in range(6):
        grid = walls[i].tolist()
        for r in range(size):
            for c in range(size):
                d = int(dist[i, r, c])
                for action, (dr, dc) in enumerate(MOVES):
                    nr, nc = r + dr, c + dc
                    moves = not grid[nr][nc] if 0 <= nr < size and 0 <= nc < size else False
                    landing = (nr, nc) if moves else (r, c)
                    expected = int(dist[i, landing[0], landing[1]]) == d - 1
                    assert bool(best[i, action, r, c]) == expected
        # every reachable floor cell but the goal has at least one optimal move
        reachable = (~walls[i]) & (dist[i] > 0) & (dist[i] < UNREACHABLE)
        assert bool(best[i].any(0)[reachable].all())
