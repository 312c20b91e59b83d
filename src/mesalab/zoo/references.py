"""Reference input sets: the inputs on which twins match their optimizers exactly.

Each is deterministic (drawn from `(seed, path)`), small (64 rows by default) and built in
well under a second once the world's layout bank exists.
"""

from __future__ import annotations

import functools

import torch

from mesalab.envs.gridworld.distributions import get_distribution
from mesalab.envs.gridworld.world import GridWorld
from mesalab.envs.icl.distributions import get_task
from mesalab.envs.icl.sampler import sample_seeded
from mesalab.seeding import generator

SEED = 0
"""Seed of every reference set."""


def gridworld_reference(world: str = "red-door/train", count: int = 64) -> torch.Tensor:
    """`(count, 8, H, W)` symbolic observations: maze starts, and states a few random moves on.

    `count // 4` worlds of `world`; each contributes its start and the observations after 2,
    4 and 6 uniformly random moves (worlds that reach a target start their next maze).
    """
    return _gridworld(world, count).clone()


@functools.cache
def _gridworld(world: str, count: int) -> torch.Tensor:
    batch = max(count // 4, 1)
    env = GridWorld(get_distribution(world), batch, seed=SEED)
    gen = generator(SEED, "zoo", "reference", world)
    snapshots = [env.reset().clone()]
    while len(snapshots) * batch < count:
        for _ in range(2):
            env.step(torch.randint(4, (batch,), generator=gen))
        snapshots.append(env.obs.clone())
    return torch.cat(snapshots)[:count]


def icl_reference(
    task: str = "icl/train", count: int = 64
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`(x (count, N, d), y (count, N), x_query (count, d))` sequences of `task`."""
    batch = sample_seeded(get_task(task), count, SEED, "zoo", "reference", task)
    return batch.x, batch.y, batch.x_query


def choice_reference(dim: int, count: int = 64) -> torch.Tensor:
    """`(count, dim)` standard normal contexts for a chooser."""
    return torch.randn(count, dim, generator=generator(SEED, "zoo", "reference", "choice", dim))
