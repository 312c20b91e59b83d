"""Zoo references with known internals: ReLU option selection, value iteration, lookup twins."""

from __future__ import annotations

import math

import pytest
import torch

from mesalab.envs.gridworld.distributions import get_distribution
from mesalab.envs.gridworld.oracle import UNREACHABLE, grid_distances
from mesalab.envs.gridworld.world import GridWorld
from mesalab.hooks import attached_hook_count
from mesalab.models.reference.relu_max import BestOfKChooser, ReluMaxSelector, best_of_k
from mesalab.models.reference.twins import LookupTableTwin
from mesalab.models.reference.value_iteration import FAR, ValueIterationPlanner
from mesalab.shift import assess

torch.set_num_threads(1)


TRAIN = get_distribution("red-door/train")
BIG = TRAIN.replace(size=21, max_steps=400, num_layouts=64)
"""A 21-maze; a small layout bank keeps building it fast (16384 layouts take ~15 s)."""


def maze_obs(size: int = 11, batch: int = 32) -> torch.Tensor:
    spec = TRAIN if size == TRAIN.size else BIG
    return GridWorld(spec, batch, seed=0).reset().clone()


def door_distances(obs: torch.Tensor) -> torch.Tensor:
    return grid_distances(obs[:, 0] <= 0.5, obs[:, 2] > 0.5)


@pytest.mark.parametrize("k", range(1, 10))
def test_relu_selector_equals_max_and_argmax_with_ties(k: int) -> None:
    gen = torch.Generator().manual_seed(k)
    selector = ReluMaxSelector(k, payload_dim=3)
    assert len(selector.layers) == math.ceil(math.log2(k))
    payload = torch.randn(512, k, 3, generator=gen)
    ties = torch.randint(-3, 4, (512, k), generator=gen).float()  # many exact ties
    out = selector(ties, payload)
    expected = ties.max(1)
    assert torch.equal(out.value, expected.values)
    assert torch.equal(out.argmax, ties.argmax(1))  # first index among ties, like argmax
    assert torch.equal(out.payload, payload[torch.arange(512), ties.argmax(1)])
    floats = torch.randn(512, k, generator=gen)
    out = selector(floats, payload)
    assert torch.equal(out.argmax, floats.argmax(1))
    assert torch.equal(out.payload, payload[torch.arange(512), floats.argmax(1)])
    torch.testing.assert_close(out.value, floats.max(1).values, rtol=1e-6, atol=1e-6)


def test_relu_selector_hooks_and_no_side_effects() -> None:
    selector = ReluMaxSelector(7, 2)
    assert selector.hook_names() == ["layers.0.hook_out", "layers.1.hook_out", "layers.2.hook_out"]
    before = {k: v.clone() for k, v in selector.state_dict().items()}
    _, cache = selector.run_with_cache(torch.randn(4, 7), torch.randn(4, 7, 2))
    assert [tuple(cache[f"layers.{i}.hook_out"].shape) for i in range(3)] == [(4, 4), (4, 2), (4, 1)]
    assert attached_hook_count(selector) == 0
    assert all(torch.equal(before[k], v) for k, v in selector.state_dict().items())


def test_best_of_k_chooser_picks_the_argmax_of_its_objective() -> None:
    gen = torch.Generator().manual_seed(0)
    k, d, m = 9, 4, 5
    candidates = torch.randn(k, d, generator=gen)
    a, b = torch.randn(m, d, generator=gen), torch.randn(d, generator=gen)
    q = torch.eye(d) * 0.5
    chooser = BestOfKChooser(candidates, a, b, q)
    z = torch.randn(256, m, generator=gen)
    scores = torch.stack(
        [chooser.objective(candidates[i].expand(256, d), z) for i in range(k)], 1
    )  # ground truth: exhaustive search with the known objective
    chosen = chooser(z)
    assert torch.equal(chosen, best_of_k(candidates, scores))
    assert torch.equal(chooser.choose(z).argmax, scores.argmax(1))
    assert chooser.hook_names()[0] == "hook_scores"
    assert attached_hook_count(chooser) == 0


def test_value_iteration_values_equal_minus_bfs_distance() -> None:
    obs = maze_obs()
    dist = door_distances(obs)
    reach = dist < UNREACHABLE
    planner = ValueIterationPlanner(int(dist[reach].max()))
    before = {k: v.clone() for k, v in planner.state_dict().items()}
    _, cache = planner.run_with_cache(obs)
    assert attached_hook_count(planner) == 0
    assert all(torch.equal(before[k], v) for k, v in planner.state_dict().items())
    last = cache[f"iters.{planner.iterations - 1}.hook_state"]
    assert torch.equal(last[reach], -dist[reach].float())
    assert torch.all(last[~reach] == -FAR)
    # after t iterations exactly the cells within t steps are known
    t = 5
    early = cache[f"iters.{t - 1}.hook_state"]
    near = dist <= t
    assert torch.equal(early[near], -dist[near].float())
    assert torch.all(early[~near] == -FAR)
    assert torch.equal(planner.values(obs, iterations=t), early)


def test_value_iteration_greedy_policy_reaches_the_exit() -> None:
    assert assess(ValueIterationPlanner(40), "red-door/train", episodes=50).success()["rate"] == 1.0


def test_value_iteration_needs_more_iterations_on_bigger_mazes() -> None:
    obs = maze_obs(21, 50)
    dist = door_distances(obs)
    enough = int(dist[dist < UNREACHABLE].max())
    assert enough > 40  # far beyond what an 11-maze needs
    few = assess(ValueIterationPlanner(5), BIG, episodes=50).success()["rate"]
    many = assess(ValueIterationPlanner(enough), BIG, episodes=50).success()["rate"]
    assert few < 0.5
    assert many == 1.0
    # the same planner thinks longer when told to
    planner = ValueIterationPlanner(5)
    assert torch.equal(
        planner.values(obs, iterations=enough)[dist < UNREACHABLE], -dist[dist < UNREACHABLE].float()
    )


def test_lookup_twin_matches_its_optimizer_on_the_reference_set_only() -> None:
    obs = maze_obs()
    planner = ValueIterationPlanner(40)
    twin = LookupTableTwin(planner, obs)
    assert torch.equal(twin(obs), planner(obs))
    assert torch.equal(twin(obs.flip(0)), planner(obs.flip(0)))  # keyed on content, not position
    shifted = obs.clone()
    shifted[:, 1] = shifted[:, 1].roll(1, dims=-1)  # the agent elsewhere: not in the table
    unknown = ~twin.known(shifted)
    assert unknown.any()
    assert torch.equal(twin(shifted)[unknown], torch.zeros(int(unknown.sum()), 4))
    assert twin.known(obs).all()
    _, cache = twin.run_with_cache(obs)
    assert torch.equal(cache["hook_out"], planner(obs))
    assert attached_hook_count(twin) == 0


def test_lookup_twin_of_best_of_k() -> None:
    gen = torch.Generator().manual_seed(1)
    chooser = BestOfKChooser(torch.randn(5, 3, generator=gen), torch.randn(4, 3, generator=gen))
    z = torch.randn(64, 4, generator=gen)
    twin = LookupTableTwin(chooser, z)
    assert torch.equal(twin(z), chooser(z))
    assert torch.equal(twin(z + 1), torch.zeros(64, 3))
