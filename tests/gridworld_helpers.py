"""Helpers shared by the gridworld tests: hand-written worlds and slow obvious references."""

from __future__ import annotations

from collections import deque

import torch

from mesalab.envs.gridworld import GridWorld, WorldSpec
from mesalab.envs.gridworld.render import parse_ascii

SMALL = WorldSpec(
    size=7,
    exit_colours=("red", "blue"),
    object_colours=("red", "blue", "green"),
    min_objects=0,
    max_objects=2,
    max_steps=12,
    num_layouts=256,
)
"""A small spec whose 3 target slots fit every hand-written world below."""


def hand_world(picture: str, spec: WorldSpec = SMALL, autoreset: bool = False, obs_mode: str = "symbolic"):
    """A one-world `GridWorld` loaded with `picture`; returns `(world, obs)`."""
    world = GridWorld(spec, 1, seed=0, obs_mode=obs_mode, autoreset=autoreset)
    obs = world.set_state(parse_ascii(picture, num_targets=spec.num_targets))
    return world, obs


def bfs(walls: list[list[bool]], source: tuple[int, int], blocked: set[tuple[int, int]] = frozenset()):
    """Slow obvious BFS: `{cell: distance}` over non-wall cells not in `blocked` (source always)."""
    size = len(walls)
    dist = {source: 0}
    queue = deque([source])
    while queue:
        r, c = queue.popleft()
        for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1)):
            nr, nc = r + dr, c + dc
            inside = 0 <= nr < size and 0 <= nc < size
            if inside and not walls[nr][nc] and (nr, nc) not in blocked and (nr, nc) not in dist:
                dist[nr, nc] = dist[r, c] + 1
                queue.append((nr, nc))
    return dist


def as_grid(walls_row: torch.Tensor, size: int) -> list[list[bool]]:
    return walls_row.view(size, size).tolist()
