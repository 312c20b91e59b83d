"""Success of the recurrent net's greedy policy, rolled out in the real world, over sizes and T.

For one maze size, the held-out mazes are the first episodes of a `GridWorld` on a layout
bank no training maze came from. The net computes every move map of the T grid in one pass
(`maps_at`: the map after T = 11 is on the way to the map after T = 44), then the greedy
policy is rolled out once per T from the same start states. The step limit is
`steps_per_side * size`, far above any optimal path (a 63x63 maze's 90th percentile is ~160
steps), so a failure is a wrong map, not a short clock; the optimal lengths are recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from mesalab.envs.gridworld import GridWorld, get_distribution
from mesalab.models.recurrent import RecurrentMazeNet, maze_of
from mesalab.seeding import derive_seed
from mesalab.shift.stats import rate_summary

CHUNK_CELLS = 1 << 18
"""Cells (mazes x H x W) per forward chunk: bounds the state's memory at any size."""


@dataclass
class SizeResult:
    """Greedy success on one maze size at each T."""

    size: int
    episodes: int
    success: dict[int, dict[str, float]]
    """T -> rate summary (`rate`, `low`, `high`, `successes`, `n`)."""
    optimal_steps: dict[str, float]
    """Median, 90th percentile and max of the optimal path length from the starts."""
    step_limit: int

    def rate(self, t: int) -> float:
        return self.success[t]["rate"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "episodes": self.episodes,
            "success": {str(t): s for t, s in self.success.items()},
            "optimal_steps": self.optimal_steps,
            "step_limit": self.step_limit,
        }


def held_out_world(
    distribution: str, size: int, episodes: int, layout_seed: int, seed: int, steps_per_side: int
) -> GridWorld:
    """`episodes` worlds of side `size` on a held-out layout bank (one layout per world at most)."""
    spec = get_distribution(distribution).replace(
        size=size, num_layouts=episodes, layout_seed=layout_seed, max_steps=steps_per_side * size
    )
    return GridWorld(spec, episodes, seed=derive_seed(seed, "eval", size) % (2**31), autoreset=False)


def compute_maps(
    net: RecurrentMazeNet, mazes: torch.Tensor, iterations: list[int]
) -> dict[int, torch.Tensor]:
    """Move maps `(B, 4, H, W)` at each T, in chunks of rows, without gradient (on the net's
    device; returned on the mazes' device)."""
    rows = max(1, CHUNK_CELLS // (mazes.shape[-1] ** 2))
    device = next(net.parameters()).device
    parts: dict[int, list[torch.Tensor]] = {t: [] for t in iterations}
    with torch.no_grad():
        for begin in range(0, mazes.shape[0], rows):
            for t, logits in net.maps_at(mazes[begin : begin + rows].to(device), iterations).items():
                parts[t].append(logits.to(mazes.device))
    return {t: torch.cat(chunks) for t, chunks in parts.items()}


def greedy_rollout(world: GridWorld, maps: torch.Tensor) -> torch.Tensor:
    """From the world's current state, follow `maps` `(B, 4, H, W)` greedily; `(B,)` bool success."""
    flat = maps.flatten(2)  # (B, 4, H*W)
    running = torch.ones(world.batch_size, dtype=torch.bool, device=world.device)
    success = torch.zeros_like(running)
    for _ in range(world.spec.max_steps):
        logits = flat.gather(2, world.state.agent[:, None, None].expand(-1, 4, 1)).squeeze(2)
        _, reward, terminated, truncated, _ = world.step(logits.argmax(1))
        success |= running & (reward > 0)
        running &= ~(terminated | truncated)
        if not bool(running.any()):
            break
    return success


def success_by_t(
    net: RecurrentMazeNet,
    size: int,
    iterations: list[int],
    episodes: int,
    layout_seed: int,
    seed: int = 0,
    distribution: str = "red-door/train",
    steps_per_side: int = 8,
) -> tuple[SizeResult, dict[int, torch.Tensor]]:
    """Greedy success at each T on `episodes` held-out mazes; also the per-maze outcomes."""
    world = held_out_world(distribution, size, episodes, layout_seed, seed, steps_per_side)
    obs = world.reset()
    start = world.state.clone()
    maps = compute_maps(net, maze_of(obs), iterations)
    outcomes: dict[int, torch.Tensor] = {}
    for t in sorted(maps):
        world.set_state(start.clone())
        outcomes[t] = greedy_rollout(world, maps[t]).cpu()
    optimal = start.start_dist[:, 0].float().cpu()
    result = SizeResult(
        size=size,
        episodes=episodes,
        success={t: rate_summary(float(o.sum()), episodes) for t, o in outcomes.items()},
        optimal_steps={
            "median": float(optimal.median()),
            "p90": float(optimal.quantile(0.9)),
            "max": float(optimal.max()),
        },
        step_limit=world.spec.max_steps,
    )
    return result, outcomes


def needed_t(result: SizeResult, tolerance: float = 0.01) -> int:
    """The smallest T whose success is within `tolerance` of the size's best."""
    best = max(s["rate"] for s in result.success.values())
    return min(t for t, s in result.success.items() if s["rate"] >= best - tolerance)


def few_and_many(size: int) -> tuple[int, int]:
    """The curve's two T for a maze side: one and four iterations per cell of side. One is too
    few for a wave from the exit to reach a maze's farthest cells (about 2 x side away), four
    leave time to spare; the gap between the two is the gain from thinking longer. (Not the
    training T: a recipe that trains at 4 x side would leave no gap to see.)"""
    return size, 4 * size


def t_grid(size: int, per_side: tuple[float, ...], training_t: int | None = None) -> list[int]:
    """T values for one size: `per_side * size` for each factor, and the training T if given."""
    return sorted({max(1, math.ceil(f * size)) for f in per_side} | ({training_t} if training_t else set()))


def overthinking(
    net: RecurrentMazeNet,
    size: int,
    needed: int,
    episodes: int,
    layout_seed: int,
    seed: int = 0,
    distribution: str = "red-door/train",
    factor: int = 4,
    steps_per_side: int = 8,
) -> dict[str, Any]:
    """Success at `needed` and at `factor * needed` iterations on the same held-out mazes."""
    longer = factor * needed
    result, _ = success_by_t(
        net, size, [needed, longer], episodes, layout_seed, seed, distribution, steps_per_side
    )
    at, beyond = result.rate(needed), result.rate(longer)
    return {
        "size": size,
        "episodes": episodes,
        "needed_t": needed,
        "longer_t": longer,
        "success_at_needed": at,
        "success_at_longer": beyond,
        "loss_points": 100 * (at - beyond),
    }
