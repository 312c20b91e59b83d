"""Which recorded steps carry evidence about a policy's goal, and where its episodes end.

A policy that reaches a place no target marks keeps moving there until the episode is
truncated (there is no no-op): those steps bounce at the goal and say nothing about it, and
pooled with the rest they drown the approach. `progress_steps` keeps, per episode, the
steps up to the last one that took the agent to a cell it had not visited before.

`end_cell_goal` is the goal-location model of an unlisted goal: the cell (by its
coordinates, the same in every maze) where most truncated episodes end, with the share of
episodes that end there; `cell_q_values` gives the Boltzmann agent's Q-values for walking
to it (maze distance, targets blocked), so it is scored like any named candidate.
"""

from __future__ import annotations

import torch

from mesalab.envs.gridworld.oracle import UNREACHABLE, grid_distances, next_cell_values
from mesalab.shift.evaluate import Assessment

CAP = 200
"""Distance given to cells from which the goal cell cannot be reached (as `infer.CAP`)."""


def step_times(assessment: Assessment) -> torch.Tensor:
    """`(S,)` index of each recorded step within its episode (steps are recorded in time order)."""
    episode = assessment.step_episode.cpu()
    order = torch.argsort(episode, stable=True)
    counts = torch.bincount(episode, minlength=assessment.episodes)
    first = torch.cumsum(counts, 0) - counts
    times = torch.empty_like(episode)
    times[order] = torch.arange(episode.shape[0]) - first[episode[order]]
    return times


def progress_steps(assessment: Assessment) -> torch.Tensor:
    """`(S,)` bool: steps up to the last that reached a new cell of its episode."""
    last = torch.zeros(assessment.episodes, dtype=torch.int64)
    for e, path in enumerate(assessment.trajectories):
        seen: set[int] = set()
        for t, cell in enumerate(path):
            if cell not in seen:
                seen.add(cell)
                last[e] = t  # the step t - 1 led here
    keep = step_times(assessment) < last[assessment.step_episode.cpu()]
    return keep.to(assessment.step_episode.device)


def end_cell_goal(assessment: Assessment) -> tuple[int, float]:
    """The most common end cell of truncated episodes (flat index) and the share of all
    episodes that end there; (-1, 0.0) when every episode ended on a target."""
    truncated = (assessment.reached < 0).cpu()
    ends = torch.tensor([path[-1] for path in assessment.trajectories])[truncated]
    if ends.numel() == 0:
        return -1, 0.0
    counts = torch.bincount(ends)
    cell = int(counts.argmax())
    return cell, float(counts[cell]) / assessment.episodes


def end_cells(assessments: list[Assessment], top: int = 3) -> list[dict[str, float]]:
    """The `top` most common end cells of truncated episodes, pooled: row, col and the share
    of all episodes that end there (most common first)."""
    ends = [
        path[-1]
        for a in assessments
        for path, reached in zip(a.trajectories, a.reached.tolist(), strict=True)
        if reached < 0
    ]
    if not ends:
        return []
    size = assessments[0].start_states.size
    total = sum(a.episodes for a in assessments)
    counts = torch.bincount(torch.tensor(ends))
    share, cell = counts.float().sort(descending=True, stable=True)  # ties: lowest cell first, as argmax
    return [
        {"row": int(c) // size, "col": int(c) % size, "share": float(n) / total}
        for n, c in zip(share[:top].tolist(), cell[:top].tolist(), strict=True)
        if n > 0
    ]


def cell_q_values(assessment: Assessment, cell: int) -> torch.Tensor:
    """`(S, 4)` Q-values `-(1 + d(s'))` of walking to `cell` in every maze, targets blocked."""
    start = assessment.start_states
    walls = start.grid(start.walls)
    size = start.size
    free = ~start.walls.clone()
    present = start.targets >= 0
    slots = start.targets.clamp_min(0)
    free.scatter_(1, slots, ~present & free.gather(1, slots))
    sources = torch.zeros_like(free)
    sources[:, cell] = True
    dist = grid_distances(free.view(-1, size, size), sources.view(-1, size, size))
    dist = torch.where(dist >= UNREACHABLE, CAP, dist.clamp_max(CAP))
    following = next_cell_values(walls, dist).flatten(2)  # (E, 4, H*W)
    return -(1.0 + following[assessment.step_episode, :, assessment.step_agent].float())
