"""`MixtureWorld`: episodes drawn from two specs in the stated proportion, deterministically."""

from __future__ import annotations

import pytest
import torch

from mesalab.envs.gridworld import GridWorld, get_distribution
from mesalab.envs.gridworld.mixture import MixtureWorld
from mesalab.envs.gridworld.spec import COLOURS
from mesalab.errors import ConfigError

TRAIN = get_distribution("red-door/train").replace(num_layouts=512)
DIVERSE = get_distribution("red-door/diverse").replace(num_layouts=512)
RED = COLOURS.index("red")


def episode_starts(world: GridWorld, steps: int = 60) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Exit colours, object counts and components of every episode started in `steps` random steps."""
    gen = torch.Generator().manual_seed(0)
    world.reset()
    exits, counts, comps = [world.state.colours[:, 0].clone()], [(world.state.targets[:, 1:] >= 0).sum(1)], []
    comps.append(world.component.clone())
    for _ in range(steps):
        _, _, _, _, info = world.step(torch.randint(0, 4, (world.batch_size,), generator=gen))
        if "final_index" in info:
            index = info["final_index"]
            exits.append(world.state.colours[index, 0])
            counts.append((world.state.targets[index, 1:] >= 0).sum(1))
            comps.append(world.component[index])
    return torch.cat(exits), torch.cat(counts), torch.cat(comps)


@pytest.mark.parametrize("fraction", [0.0, 0.3, 1.0])
def test_component_share_and_contents(fraction: float) -> None:
    exits, counts, comps = episode_starts(MixtureWorld(TRAIN, DIVERSE, fraction, 256, seed=1))
    share = comps.float().mean().item()
    assert abs(share - fraction) < 0.05
    base = comps == 0
    assert bool((exits[base] == RED).all()) and bool((counts[base] == 0).all())
    if fraction > 0:
        alt_exits = exits[comps == 1]
        assert set(alt_exits.tolist()) == set(range(len(COLOURS)))
        assert set(counts[comps == 1].tolist()) == {0, 1, 2}


def test_deterministic_and_batch_invariant() -> None:
    a = MixtureWorld(TRAIN, DIVERSE, 0.5, 16, seed=3)
    b = MixtureWorld(TRAIN, DIVERSE, 0.5, 1, seed=3, world_ids=[5])
    a.reset(), b.reset()
    assert torch.equal(a.obs[5], b.obs[0]) and int(a.component[5]) == int(b.component[0])
    assert torch.equal(episode_starts(a)[0], episode_starts(MixtureWorld(TRAIN, DIVERSE, 0.5, 16, seed=3))[0])


def test_components_must_share_the_maze() -> None:
    with pytest.raises(ConfigError, match="size"):
        MixtureWorld(TRAIN, DIVERSE.replace(size=13), 0.1, 4)
    with pytest.raises(ConfigError, match="alt_fraction"):
        MixtureWorld(TRAIN, DIVERSE, 1.5, 4)
