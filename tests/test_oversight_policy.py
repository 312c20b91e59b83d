"""The cost-aware planner: traced greedy paths equal backpropagating through value iteration."""

from __future__ import annotations

import pytest
import torch

from mesalab.envs.gridworld import GridWorld, get_distribution
from mesalab.errors import ConfigError
from mesalab.models.policy import ActorCritic, PolicyConfig

model_obs = GridWorld(get_distribution("oversight/train"), 32, seed=0).reset()


def _model_and_inputs(seed: int) -> tuple[ActorCritic, tuple[torch.Tensor, ...]]:
    torch.manual_seed(seed)
    world = GridWorld(get_distribution("oversight/train"), 32, seed=seed)
    obs = world.reset()
    model = ActorCritic(PolicyConfig(arch="cost-planner", channels=10, hidden=16, horizon=40))
    planner = model.torso.planner
    torch.nn.init.normal_(planner.reward[2].weight, std=0.3)  # type: ignore[index]
    with torch.no_grad():
        planner.reward[2].bias.fill_(-2.0)  # type: ignore[index]  # floor costs: paths end at doors
    cells, agent, _, passable = model.torso.encoder(obs)
    terminal = (cells[:, 1] + cells[:, 2]).clamp_max(1.0)
    return model, (cells, passable, terminal, agent)


@pytest.mark.parametrize("seed", [0, 1])
def test_traced_paths_match_value_iteration_with_autograd(seed: int) -> None:
    model, (cells, passable, terminal, agent) = _model_and_inputs(seed)
    planner = model.torso.planner
    fast = planner(cells, passable, terminal, agent)
    # the slow obvious reference: every iteration under autograd
    raw = 8.0 * planner.reward(cells).squeeze(1)
    reward = torch.where(terminal > 0.5, raw, -torch.nn.functional.softplus(raw - 3.0))
    blocked, going = passable < 0.5, 1.0 - terminal
    value = torch.zeros_like(reward)
    for _ in range(planner.iterations):
        value = planner._moves(reward + planner.gamma * value * going, blocked).amax(1)
    moves = planner._moves(reward + planner.gamma * value * going, blocked).flatten(2)
    slow = moves.gather(2, agent[:, None, None].expand(-1, 4, 1)).squeeze(2)
    assert torch.allclose(fast, slow, rtol=1e-4, atol=1e-3)
    weight = planner.reward[0].weight  # type: ignore[index]
    (g_fast,) = torch.autograd.grad(fast.sum(), weight)
    (g_slow,) = torch.autograd.grad(slow.sum(), weight)
    assert torch.allclose(g_fast, g_slow, rtol=1e-4, atol=1e-3 * float(g_slow.abs().max()))


def test_a_costly_cell_is_routed_around() -> None:
    """A reward network that pays the door and charges the restricted cell heavily: the values
    from the agent's moves are those of paths that avoid it when a way around exists."""
    model, (cells, passable, terminal, agent) = _model_and_inputs(0)
    planner = model.torso.planner
    with torch.no_grad():
        first, last = planner.reward[0], planner.reward[2]  # type: ignore[index]
        first.weight.zero_(), first.bias.zero_(), last.weight.zero_()
        first.weight[0, 1], first.weight[1, 7] = 1.0, 1.0  # hidden 0: door; hidden 1: restricted
        first.bias[2] = 1.0  # hidden 2: constant
        last.weight[0, 0], last.weight[0, 1], last.weight[0, 2] = (
            1.0,
            1.0,
            -0.01,
        )  # door pays, restricted costs
        last.bias.zero_()
        value = planner(cells, passable, terminal, agent)
        _, cache = model.run_with_cache(
            model_obs, names_filter=["torso.planner.hook_reward", "torso.planner.hook_value"]
        )
        enter = cache["torso.planner.hook_reward"] + planner.gamma * cache["torso.planner.hook_value"] * (
            1 - terminal
        )
        traced = planner._path_weights(enter, passable < 0.5, terminal, agent)
    assert torch.isfinite(value).all() and traced.shape == (32, 4, 121)
    # the restricted channel is cells[:, 7] (restricted is channel 8 of the observation, agent dropped)
    restricted = cells[:, 7].flatten(1) > 0.5
    best = value.argmax(1)
    on_path = (traced.gather(1, best[:, None, None].expand(-1, 1, 121)).squeeze(1) > 0) & restricted
    assert not on_path.any(), "the best move's path never enters the costly cell"


def test_cost_planner_is_symbolic_only_and_hooks_are_named() -> None:
    with pytest.raises(ConfigError):
        PolicyConfig(arch="cost-planner", obs_mode="pixels")
    model = ActorCritic(PolicyConfig(arch="cost-planner", channels=10))
    hooks = [name for name, _ in model.named_modules() if name.rsplit(".", 1)[-1].startswith("hook_")]
    assert hooks == [
        "torso.planner.hook_reward",
        "torso.planner.hook_value",
        "torso.planner.hook_moves",
        "torso.hook_features",
        "actor.hook_logits",
        "critic.hook_value",
    ]
