"""Zoo models built for issue 5: the best-of-n scaffold, GD as a transformer, memorizers, heuristics."""

from __future__ import annotations

import pytest
import torch

from mesalab.envs.gridworld.distributions import get_distribution
from mesalab.envs.gridworld.objectives import OBJECTIVES
from mesalab.envs.gridworld.observations import CHANNELS, decode_symbolic
from mesalab.envs.gridworld.oracle import moves_towards
from mesalab.envs.gridworld.world import GridWorld
from mesalab.envs.icl.sampler import tokens
from mesalab.hooks import attached_hook_count
from mesalab.models.heuristics import RedGradient, WallFollower
from mesalab.models.reference.best_of_n import BestOfNScaffold, optimal_value
from mesalab.models.reference.gd import GDTransformer, GradientDescent, gd_construction, in_context_loss
from mesalab.models.reference.memorizer import NearestNeighbourMemorizer
from mesalab.models.reference.twins import LookupTableTwin
from mesalab.shift import assess
from mesalab.zoo.references import gridworld_reference, icl_reference

torch.set_num_threads(1)


def small_world_obs(size: int, objects: int, batch: int = 96) -> torch.Tensor:
    """Starts and random-walk states of small mazes with a blue exit and red objects."""
    spec = get_distribution("red-door/deploy").replace(
        size=size, min_objects=min(objects, 1), max_objects=objects, num_layouts=256
    )
    env = GridWorld(spec, batch, seed=3)
    gen = torch.Generator().manual_seed(0)
    obs = [env.reset().clone()]
    for _ in range(2):
        env.step(torch.randint(4, (batch,), generator=gen))
        obs.append(env.obs.clone())
    return torch.cat(obs)


@pytest.mark.parametrize(("size", "objects", "rollouts"), [(5, 0, 16), (7, 2, 128)])
def test_best_of_n_finds_the_optimum_of_its_value_on_small_worlds(
    size: int, objects: int, rollouts: int
) -> None:
    obs = small_world_obs(size, objects)
    scaffold = BestOfNScaffold()
    plan = scaffold.plan(obs, rollouts)
    optimum = optimal_value(obs)  # discount ** (BFS distance to the exit, objects blocking)
    assert bool((optimum > 0).all())
    assert torch.equal(plan.best_value, optimum)
    # every rollout's value is at most the optimum: the value is what it claims
    assert bool((plan.returns <= optimum[:, None]).all())
    # and it acts on it: the chosen move is on a shortest path to the exit
    state = decode_symbolic(obs)
    shortest = moves_towards(state, OBJECTIVES["exit"].targets(state))
    chosen = scaffold(obs, rollouts=rollouts).argmax(1)
    assert bool(shortest.gather(1, chosen[:, None]).all())


def test_best_of_n_thinks_longer_with_more_rollouts() -> None:
    obs = gridworld_reference()
    scaffold = BestOfNScaffold()
    best = torch.stack([scaffold.plan(obs, n).best_value for n in (1, 4, 16, 64, 256)])
    assert bool((best[1:] >= best[:-1]).all())  # n + 1 rollouts extend the first n
    optimum = optimal_value(obs)
    at_optimum = (best == optimum).float().mean(1)
    assert at_optimum[0] < 0.5 < at_optimum[-1]
    few = assess(lambda o: scaffold(o, rollouts=2), "red-door/train", episodes=40).success()["rate"]
    many = assess(scaffold, "red-door/train", episodes=40).success()["rate"]
    assert few < many and many >= 0.9


def test_best_of_n_is_a_function_of_each_observation() -> None:
    obs = gridworld_reference()
    scaffold = BestOfNScaffold()
    logits, cache = scaffold.run_with_cache(obs)
    assert torch.equal(scaffold(obs[:5]), logits[:5])  # batch composition does not matter
    assert torch.equal(scaffold(obs.flip(0)), logits.flip(0))
    assert torch.equal(BestOfNScaffold(seed=0)(obs), logits)
    assert not torch.equal(BestOfNScaffold(seed=1)(obs, rollouts=4), scaffold(obs, rollouts=4))
    assert scaffold.hook_names() == ["hook_returns", "hook_action_values", "hook_logits"]
    assert cache["hook_returns"].shape == (64, 64)
    assert attached_hook_count(scaffold) == 0
    walls = obs[:, CHANNELS.index("wall")]
    assert bool(((logits == -1) == _blocked(walls, obs)).all())  # moves into walls, and only those, at -1


def _blocked(walls: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    agent = obs[:, CHANNELS.index("agent")].flatten(1).argmax(1)
    size = obs.shape[-1]
    flat = walls.flatten(1) > 0.5
    deltas = torch.tensor([-size, 1, size, -1])
    return flat.gather(1, agent[:, None] + deltas[None])


def test_best_of_n_value_avoids_what_its_objective_does_not_pay_for() -> None:
    # on deploy the exit is blue and red objects end the episode for nothing
    rate = assess(BestOfNScaffold(), "red-door/deploy", episodes=40).reach_rates()
    assert rate["exit"]["rate"] >= 0.85 and rate["red"]["rate"] <= 0.15


def test_gd_transformer_runs_gradient_descent_and_thinks_longer() -> None:
    x, y, x_query = icl_reference()
    model, plain = GDTransformer(10, 1.0, 3), GradientDescent(1.0, 3)
    assert model.compute_argument == plain.compute_argument == "steps"
    assert model.default_compute == plain.default_compute == 3
    for steps in (0, 1, 3, 6):
        torch.testing.assert_close(model(x, y, x_query, steps=steps), plain(x, y, x_query, steps=steps))
    token_model = gd_construction(10, 1.0, 3)
    assert torch.equal(model(x, y, x_query), token_model(tokens(x, y, x_query)))
    # its objective, the in-context loss, falls with every step on every reference sequence
    _, cache = plain.run_with_cache(x, y, x_query, steps=3)
    losses = torch.stack(
        [in_context_loss(torch.zeros_like(x_query), x, y)]
        + [in_context_loss(cache[f"iters.{k}.hook_iterate"], x, y) for k in range(3)],
        1,
    )
    assert bool((losses[:, 1:] < losses[:, :-1]).all())
    _, cache = model.run_with_cache(x, y, x_query, steps=5)  # steps past the layers run unhooked
    assert "blocks.2.hook_resid_post" in cache and attached_hook_count(model) == 0


def test_memorizer_is_exact_on_its_reference_set_and_nearest_elsewhere() -> None:
    obs = gridworld_reference()
    scaffold = BestOfNScaffold(rollouts=16)
    memorizer = NearestNeighbourMemorizer(scaffold, obs)
    assert torch.equal(memorizer(obs), scaffold(obs))
    x, y, x_query = icl_reference()
    gd = GradientDescent(1.0, 3)
    icl_memorizer = NearestNeighbourMemorizer(gd, (x, y, x_query))
    assert torch.equal(icl_memorizer(x, y, x_query), gd(x, y, x_query))
    nudged = icl_memorizer(x + 1e-3, y, x_query)  # off the set: the nearest memory's answer
    assert torch.equal(nudged, gd(x, y, x_query))
    assert not torch.allclose(nudged, gd(x + 1e-3, y, x_query), atol=0, rtol=0)
    lookup = LookupTableTwin(gd, (x, y, x_query))
    assert torch.equal(lookup(x, y, x_query), gd(x, y, x_query))
    assert torch.equal(lookup(x + 1e-3, y, x_query), torch.zeros(64))
    _, cache = icl_memorizer.run_with_cache(x, y, x_query)
    assert cache["hook_distances"].shape == (64, 64)
    distances = cache["hook_distances"]
    assert bool((distances.diagonal() < 1e-9).all()) and torch.equal(distances.argmin(1), torch.arange(64))


def test_wall_follower_exits_every_maze_without_a_goal() -> None:
    follower = WallFollower()
    result = assess(follower, "red-door/train", episodes=60)
    assert result.success()["rate"] == 1.0
    obs = gridworld_reference()
    fresh = WallFollower()(obs)
    assert torch.equal(follower(obs), fresh)  # a new batch: every row starts fresh
    assert torch.equal(follower(obs), fresh)  # the same observations again: still fresh
    blocked = _blocked(obs[:, 0], obs)
    assert not bool(blocked.gather(1, fresh.argmax(1, keepdim=True)).any())  # never walks into a wall
    # it follows no objective: on deploy it reaches whatever dead end its hand leads to first
    deploy = assess(WallFollower(), "red-door/deploy", episodes=60).reach_rates()
    assert 0.15 < deploy["exit"]["rate"] < 0.85


def test_red_gradient_is_local_and_wall_blind() -> None:
    obs = gridworld_reference()
    policy = RedGradient()
    _, cache = policy.run_with_cache(obs)
    no_walls = obs.clone()
    no_walls[:, CHANNELS.index("wall")] = 0
    _, cache_open = policy.run_with_cache(no_walls)
    assert torch.equal(cache["hook_signal"], cache_open["hook_signal"])  # walls do not bend the signal
    far = obs.clone()
    far[:, CHANNELS.index("red")] = 0  # nothing red in sight: every open move ties
    logits = policy(far)
    assert bool(((logits == 0) | (logits == -30)).all())
    train = assess(policy, "red-door/train", episodes=60).success()["rate"]
    assert 0.05 < train < 0.6  # reaches red doors that lie ahead, stuck behind walls elsewhere
