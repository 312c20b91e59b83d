"""Integration tests of the batched world: determinism, batch invariance, incremental observations."""

from __future__ import annotations

import pytest
import torch

from gridworld_helpers import SMALL
from mesalab.envs.gridworld import GridWorld, get_distribution
from mesalab.errors import ConfigError

DEPLOY = get_distribution("red-door/deploy")
# short episodes so that every world auto-resets several times within a short rollout
SHORT = DEPLOY.replace(max_steps=15)


def _actions(steps: int, batch: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 4, (steps, batch), generator=torch.Generator().manual_seed(seed))


def _rollout(world: GridWorld, actions: torch.Tensor) -> list[torch.Tensor]:
    """Everything a step returns, flattened into a list of tensors (cloned)."""
    out = [world.reset().clone()]
    for step_actions in actions:
        obs, reward, terminated, truncated, info = world.step(step_actions)
        out += [
            obs.clone(),
            reward,
            terminated,
            truncated,
            info["reached"],
            info["objectives"],
            info["steps"],
        ]
        out += [world.state.agent.clone(), world.state.targets.clone(), world.state.colours.clone()]
    return out


@pytest.mark.parametrize("obs_mode", ["symbolic", "pixels"])
def test_same_seed_same_rollout_bit_for_bit(obs_mode: str) -> None:
    actions = _actions(60, 16, seed=1)
    a = _rollout(GridWorld(SHORT, 16, seed=7, obs_mode=obs_mode), actions)
    b = _rollout(GridWorld(SHORT, 16, seed=7, obs_mode=obs_mode), actions)
    assert len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    c = _rollout(GridWorld(SHORT, 16, seed=8, obs_mode=obs_mode), actions)
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True)), "the seed matters"


def test_world_of_a_batch_equals_that_world_alone_through_autoresets() -> None:
    batch, steps = 64, 50
    actions = _actions(steps, batch, seed=2)
    world = GridWorld(SHORT, batch, seed=3)
    world.reset()
    chosen = [0, 17, 63]
    alone = {i: GridWorld(SHORT, 1, seed=3, world_ids=[i]) for i in chosen}
    for i, single in alone.items():
        assert torch.equal(single.reset()[0], world.obs[i])
    resets = 0
    for t in range(steps):
        obs, reward, terminated, truncated, info = world.step(actions[t])
        for i, single in alone.items():
            s_obs, s_reward, s_term, s_trunc, s_info = single.step(actions[t, i : i + 1])
            assert torch.equal(s_obs[0], obs[i])
            assert torch.equal(s_reward[0], reward[i])
            assert bool(s_term[0]) == bool(terminated[i]) and bool(s_trunc[0]) == bool(truncated[i])
            assert torch.equal(s_info["objectives"][0], info["objectives"][i])
            if "final_index" in s_info:
                row = info["final_index"].tolist().index(i)
                assert torch.equal(s_info["final_obs"][0], info["final_obs"][row])
                resets += 1
    assert resets >= 6, "the comparison covered auto-resets"
    assert int(world.episode.max()) >= 2


@pytest.mark.parametrize("obs_mode", ["symbolic", "pixels"])
@pytest.mark.parametrize("autoreset", [True, False])
def test_incremental_observations_equal_a_rebuild(obs_mode: str, autoreset: bool) -> None:
    """After many steps (and, without autoreset, after stepping off targets) the patched
    buffer equals one rebuilt from the state."""
    world = GridWorld(SHORT, 32, seed=4, obs_mode=obs_mode, autoreset=autoreset)
    world.reset()
    for step_actions in _actions(120, 32, seed=5):
        world.step(step_actions)
    fresh = GridWorld(SHORT, 32, seed=4, obs_mode=obs_mode)
    assert torch.equal(fresh.set_state(world.state), world.obs)


def test_observation_layout() -> None:
    symbolic = GridWorld(DEPLOY, 4, seed=0)
    obs = symbolic.reset()
    assert obs.shape == (4, 8, 11, 11) and obs.dtype == torch.float32
    assert symbolic.channels == ("wall", "agent", "door", "object", "red", "blue", "green", "yellow")
    assert torch.equal(obs[:, 0].flatten(1).bool(), symbolic.state.walls)
    assert bool((obs[:, 1].flatten(1).sum(1) == 1).all()) and bool((obs[:, 2].flatten(1).sum(1) == 1).all())
    assert bool((obs[:, 5] == obs[:, 2]).all()), "deploy: the door is blue, nothing else is"
    assert torch.equal(obs[:, 4], obs[:, 3]), "deploy: every object is red"
    pixels = GridWorld(DEPLOY, 4, seed=0, obs_mode="pixels")
    assert pixels.reset().shape == (4, 3, 55, 55) and pixels.obs.dtype == torch.uint8


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2, "obs_mode": "rgb"}, "obs_mode"),
        ({"batch_size": 2, "world_ids": [1, 2, 3]}, "world_ids"),
    ],
)
def test_bad_world_arguments_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        GridWorld(SMALL, **kwargs)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"size": 0}, "size: must be odd and >= 5"),
        ({"size": -7}, "size: must be odd and >= 5"),
        ({"size": 8}, "size: must be odd and >= 5"),
        ({"exit_colours": ["purple"]}, "exit_colours: unknown value 'purple'"),
        ({"object_colours": ["red", "pink"]}, "object_colours: unknown value 'pink'"),
        ({"size": 5, "max_objects": 3, "min_objects": 1}, "maze too small for its objects"),
        ({"max_steps": 0}, "max_steps: must be positive"),
        ({"num_layouts": 0}, "num_layouts: must be positive"),
        ({"min_objects": 3, "max_objects": 2}, "max_objects: must be >= min_objects"),
    ],
)
def test_bad_specs_are_refused_with_the_field(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SMALL.replace(**changes)
