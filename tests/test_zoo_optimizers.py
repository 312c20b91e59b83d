"""The zoo's optimizers beyond plain GD: heavy ball, conjugate gradient, breadth-first search.

Each solves its task: momentum and CG reach the least-squares loss as their steps grow; the
BFS policy moves along shortest paths to the exit (checked against the scripted exit seeker
on every state tried) and reaches the exit in every episode.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from gridworld_helpers import SMALL, as_grid, bfs, hand_world
from mesalab.envs.gridworld.distributions import get_distribution
from mesalab.envs.gridworld.world import GridWorld
from mesalab.envs.icl.distributions import get_task
from mesalab.envs.icl.sampler import sample_seeded
from mesalab.errors import ConfigError
from mesalab.models.reference.bfs import FAR, BFSPlanner
from mesalab.models.reference.gd import GradientDescent, in_context_loss, least_squares
from mesalab.models.reference.iterative import ConjugateGradient, HeavyBallGD
from mesalab.models.scripted import GoalSeeker
from mesalab.seeding import generator
from mesalab.shift import assess
from mesalab.zoo.references import gridworld_reference


def context_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> torch.Tensor:
    """`(B,)` in-context loss of the model's predictions at its own context inputs, float64."""
    batch, n, d = x.shape
    with torch.no_grad():
        pred = model(
            x.repeat_interleave(n, 0), y.repeat_interleave(n, 0), x.reshape(batch * n, d), steps=steps
        )
    return 0.5 * (pred.double().view(batch, n) - y.double()).pow(2).mean(-1)


TASKS = {
    "icl/train": get_task("icl/train"),  # N = d: the least-squares loss is 0, the Gram matrix ill-conditioned
    "noisy, N = 2d": get_task("icl/train").replace(noise=0.5, n_context=20),  # a positive least-squares loss
}


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize(
    ("model", "schedule", "tolerance"),
    [(HeavyBallGD(1.0, 0.5, 0), (10, 30, 100, 300), 1e-3), (ConjugateGradient(0), (1, 3, 10, 20), 1e-6)],
    ids=["momentum", "conjugate-gradient"],
)
def test_iterative_optimizers_reach_the_least_squares_loss(
    task: str, model: torch.nn.Module, schedule: tuple[int, ...], tolerance: float
) -> None:
    batch = sample_seeded(TASKS[task], 256, 3, "test", "iterative")
    x, y = batch.x, batch.y
    floor = in_context_loss(least_squares(x.double(), y.double()), x.double(), y.double())  # (B,)
    base = 0.5 * y.double().pow(2).mean(-1)  # L(0)
    gaps = [float(((context_loss(model, x, y, k) - floor) / base).mean()) for k in schedule]
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(gaps)), gaps  # more steps, lower loss
    assert gaps[-1] <= tolerance and gaps[0] > 10 * gaps[-1], gaps


def test_heavy_ball_without_momentum_is_gradient_descent() -> None:
    batch = sample_seeded(get_task("icl/train"), 64, 4, "test", "momentum")
    args = (batch.x, batch.y, batch.x_query)
    assert torch.allclose(HeavyBallGD(1.0, 0.0, 3)(*args), GradientDescent(1.0, 3)(*args), atol=1e-6)
    with pytest.raises(ConfigError, match="beta"):
        HeavyBallGD(1.0, 1.0, 3)


def test_conjugate_gradient_first_step_is_an_exact_line_search() -> None:
    batch = sample_seeded(get_task("icl/train"), 64, 5, "test", "cg")
    x, y = batch.x.double(), batch.y.double()
    _, cache = ConjugateGradient(2).run_with_cache(batch.x, batch.y, batch.x_query)
    assert ConjugateGradient(2).hook_names() == ["iters.0.hook_iterate", "iters.1.hook_iterate"]
    s = x.transpose(1, 2) @ x / x.shape[1]
    g = torch.einsum("bnd,bn->bd", x, y) / x.shape[1]  # minus the gradient at w = 0
    step = (g * g).sum(-1) / torch.einsum("bd,bde,be->b", g, s, g)
    assert torch.allclose(cache["iters.0.hook_iterate"].double(), step[:, None] * g, rtol=1e-5, atol=1e-6)
    losses = [in_context_loss(cache[f"iters.{k}.hook_iterate"].double(), x, y) for k in range(2)]
    assert bool((losses[1] <= losses[0] + 1e-9).all())


WORLD = """
#######
#@..#.#
#.#.#.#
#.#...#
#.###.#
#..r.R#
#######
"""


def test_bfs_values_are_minus_the_maze_distance_with_other_targets_blocked() -> None:
    _, obs = hand_world(WORLD)
    values = BFSPlanner(20).values(obs)[0]
    walls = as_grid(obs[0, 0].flatten() > 0.5, SMALL.size)
    dist = bfs(walls, (5, 5), blocked={(5, 3)})  # the door at (5, 5); the red object blocks
    for r in range(SMALL.size):
        for c in range(SMALL.size):
            expected = -float(dist[r, c]) if (r, c) in dist else -FAR
            assert float(values[r, c]) == expected, (r, c)
    logits = BFSPlanner(20)(obs)[0]
    assert logits.tolist() == [-30.0, 0.0, -30.0, -30.0]  # right: the way round, not through the object
    assert BFSPlanner(3)(obs)[0].tolist() == [0.0] * 4  # the search has not reached the agent yet


def test_bfs_hook_names_are_pinned() -> None:
    names = BFSPlanner(3).hook_names()
    assert names == [f"iters.{t}.hook_{k}" for t in range(3) for k in ("state", "frontier")] + ["hook_logits"]


def test_bfs_policy_moves_along_shortest_paths_to_the_exit() -> None:
    """On the reference set and 512 other observations, exactly the exit seeker's moves."""
    env = GridWorld(get_distribution("red-door/train").replace(layout_seed=1), 128, seed=2)
    gen = generator(2, "test", "bfs-states")
    states = [env.reset().clone()]
    for _ in range(2):
        env.step(torch.randint(4, (128,), generator=gen))
        states.append(env.obs.clone())
    deploy = GridWorld(get_distribution("red-door/deploy"), 128, seed=2).reset()  # red objects in the way
    planner, seeker = BFSPlanner(), GoalSeeker("exit")
    for obs in (gridworld_reference(), torch.cat(states), deploy):
        with torch.no_grad():
            assert torch.equal(planner(obs), seeker(obs))


@pytest.mark.parametrize("layout_seed", [None, 1], ids=["training mazes", "held-out mazes"])
def test_bfs_policy_reaches_the_exit_in_every_episode(layout_seed: int | None) -> None:
    result = assess(BFSPlanner(), "red-door/train", episodes=128, layout_seed=layout_seed)
    assert result.summary()["reach"]["exit"]["rate"] == 1.0
