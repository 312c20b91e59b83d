"""Unit tests of maze generation and placement, against slow obvious Python checks."""

from __future__ import annotations

import pytest
import torch

from gridworld_helpers import as_grid, bfs
from mesalab.envs.gridworld import COLOURS, DISTRIBUTIONS, GridWorld, get_distribution
from mesalab.envs.gridworld.layouts import generate_mazes, layout_bank, symmetry_permutations
from mesalab.seeding import world_keys


@pytest.mark.parametrize("size", [5, 7, 11, 15])
def test_generated_mazes_are_perfect(size: int) -> None:
    walls = generate_mazes(size, world_keys(0, "maze", torch.arange(40)))
    assert walls.shape == (40, size, size)
    for maze in walls:
        grid = maze.tolist()
        assert all(grid[0]) and all(grid[-1]) and all(row[0] and row[-1] for row in grid), "outer wall"
        floor = [(r, c) for r in range(size) for c in range(size) if not grid[r][c]]
        reached = bfs(grid, floor[0])
        assert set(reached) == set(floor), "floor is connected"
        edges = sum(
            1
            for r, c in floor
            for nr, nc in ((r + 1, c), (r, c + 1))
            if nr < size and nc < size and not grid[nr][nc]
        )
        assert edges == len(floor) - 1, "a tree: exactly one path between two floor cells"


def test_mazes_depend_only_on_their_key() -> None:
    keys = world_keys(3, "maze", torch.arange(10))
    together = generate_mazes(9, keys)
    alone = torch.stack([generate_mazes(9, keys[i : i + 1])[0] for i in (0, 7)])
    assert torch.equal(together[[0, 7]], alone)
    assert not torch.equal(together[0], together[1])


@pytest.mark.parametrize("name", DISTRIBUTIONS.names())
def test_placements_in_episodes(name: str) -> None:
    """Every episode: targets reachable from the start, exit at a dead end, objects off the path."""
    spec = get_distribution(name)
    world = GridWorld(spec, 24, seed=5)
    world.reset()
    size = spec.size
    for _episode in range(2):
        state = world.state
        for i in range(world.batch_size):
            grid = as_grid(state.walls[i], size)
            start = divmod(int(state.start[i]), size)
            targets = [divmod(int(t), size) for t in state.targets[i] if t >= 0]
            exit_cell, objects = targets[0], targets[1:]
            assert spec.min_objects <= len(objects) <= spec.max_objects
            assert len(set(targets) | {start}) == len(targets) + 1, "distinct cells"
            from_start = bfs(grid, start)
            for slot, cell in enumerate(targets):
                assert cell in from_start, "reachable"
                assert int(state.start_dist[i, slot]) == from_start[cell]
            r, c = exit_cell
            open_sides = sum(not grid[r + dr][c + dc] for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1)))
            assert open_sides == 1, "the exit is at a dead end"
            from_exit = bfs(grid, exit_cell)
            length = from_start[exit_cell]
            for cell in objects:
                assert from_start[cell] + from_exit[cell] != length, "objects off the start-to-exit path"
            colours = [COLOURS[int(k)] for k in state.colours[i] if k >= 0]
            assert colours[0] in spec.exit_colours
            assert all(colour in spec.object_colours for colour in colours[1:])
        world.episode += 1
        world.reset_worlds(torch.arange(world.batch_size))


def test_symmetries_are_permutations_of_the_square() -> None:
    perms = symmetry_permutations(7, torch.device("cpu"))
    assert perms.shape == (8, 49)
    assert len({tuple(p.tolist()) for p in perms}) == 8
    for p in perms:
        assert sorted(p.tolist()) == list(range(49))


def test_layout_bank_is_generated_lazily_and_shared() -> None:
    spec = get_distribution("red-door/train").replace(num_layouts=600, layout_seed=11)
    bank = layout_bank(spec, torch.device("cpu"))
    assert layout_bank(spec, torch.device("cpu")) is bank
    bank.ensure(torch.tensor([300]))
    assert bank._ready.tolist() == [False, True, False]
    first = bank.walls[300].clone()
    bank.ensure(torch.arange(600))
    assert bool(bank._ready.all())
    assert torch.equal(bank.walls[300], first), "a block is generated once, from its ids alone"
