"""Catch it searching: linear probes from `iters.{t}.hook_hidden` to two candidate algorithms.

Two hypotheses say, for each floor cell and iteration t, whether the cell is "done":

- **wavefront** (breadth-first search from the exit): the cell is within t steps of the exit;
- **dead-end filling** (prune leaves inward): the cell is a dead end after pruning t - 1
  rounds of dead ends (its subtree, rooted at the exit, is at most t deep).

One linear probe per hypothesis (closed-form ridge on +-1 labels, one readout for every
iteration: a fixed direction of the state that means "done") is fitted on training-size
mazes, pooled over iterations, and tested per iteration on larger held-out mazes, reading
the hidden state only by hook name. The same probes on an untrained net of the same shape
are the control. Balanced accuracy: 0.5 is chance at every t, whatever the label balance.
Without any probe, the per-iteration move maps (`iters.{t}.hook_logits`) say the same thing
behaviourally: under a wavefront, a cell's move becomes right when the front reaches it;
under dead-end filling, when its subtree has been pruned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch

from mesalab.envs.gridworld.oracle import MOVES, UNREACHABLE, _shift, fill_rounds
from mesalab.hooks import HookedModule, HookPoint
from mesalab.train.maze_supervised import MazeBatch, MazeSource

HIDDEN = re.compile(r"(?:^|\.)iters\.(\d+)\.hook_hidden$")
LOGITS = re.compile(r"(?:^|\.)iters\.(\d+)\.hook_logits$")
HYPOTHESES = ("wavefront", "dead-end filling")
MAX_FIT_ROWS = 400_000
"""Cells x iterations kept for the ridge fit (a seeded subsample beyond this)."""


def labels(distance: torch.Tensor, rounds: torch.Tensor, t: int) -> dict[str, torch.Tensor]:
    """`(B, H, W)` bool per hypothesis: done after iteration t (t counts from 1)."""
    return {"wavefront": distance <= t, "dead-end filling": rounds <= t}


def hidden_states(net: HookedModule, maze: torch.Tensor, iterations: int) -> dict[int, torch.Tensor]:
    """`iters.{t}.hook_hidden` for t < iterations, `(B, C, H, W)` each, read by hook name."""
    names = [n for n in net.hook_names() if (m := HIDDEN.search(n)) and int(m.group(1)) < iterations]
    _, cache = net.run_with_cache(maze, iterations=iterations, names_filter=names)
    return {int(HIDDEN.search(n).group(1)): v for n, v in cache.items()}  # type: ignore[union-attr]


def _rows(hidden: torch.Tensor, floor: torch.Tensor) -> torch.Tensor:
    """`(N, C + 1)` features of the floor cells, with a constant column."""
    cells = hidden.permute(0, 2, 3, 1)[floor]  # (N, C)
    return torch.cat([cells, torch.ones(cells.shape[0], 1)], dim=1)


@dataclass
class Probe:
    """A linear readout `sign(w . [h, 1])` of one hypothesis's label."""

    hypothesis: str
    weights: torch.Tensor

    def score(self, hidden: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W)` -> `(B, H, W)` readout (positive: done)."""
        weights = self.weights.to(hidden.device)
        return torch.einsum("bchw,c->bhw", hidden, weights[:-1]) + weights[-1]


def fit_probes(
    net: HookedModule, batch: MazeBatch, iterations: int, ridge: float = 1e-2, seed: int = 0
) -> dict[str, Probe]:
    """One ridge probe per hypothesis, pooled over iterations 1..T of `batch`'s mazes."""
    states = hidden_states(net, batch.maze, iterations)
    floor, rounds = (batch.distance < UNREACHABLE).cpu(), fill_rounds(batch.distance).cpu()
    feats: list[torch.Tensor] = []
    targets: dict[str, list[torch.Tensor]] = {h: [] for h in HYPOTHESES}
    for t, hidden in states.items():
        feats.append(_rows(hidden.cpu(), floor))
        for name, label in labels(batch.distance.cpu(), rounds, t + 1).items():
            targets[name].append(label[floor].float() * 2 - 1)
    x = torch.cat(feats).double()
    gen = torch.Generator().manual_seed(seed)
    keep = torch.randperm(x.shape[0], generator=gen)[:MAX_FIT_ROWS]
    x = x[keep]
    gram = x.T @ x + ridge * x.shape[0] * torch.eye(x.shape[1], dtype=torch.float64)
    probes = {}
    for name in HYPOTHESES:
        y = torch.cat(targets[name]).double()[keep]
        probes[name] = Probe(name, torch.linalg.solve(gram, x.T @ y).float())
    return probes


def _on(batch: MazeBatch, device: torch.device) -> MazeBatch:
    return MazeBatch(
        batch.maze.to(device), batch.good.to(device), batch.labelled.to(device), batch.distance.to(device)
    )


def balanced_accuracy(score: torch.Tensor, label: torch.Tensor) -> float:
    """Mean of the true-positive and true-negative rates (one class only: its rate)."""
    rates = [
        float(((score > 0) == cls)[label == cls].float().mean())
        for cls in (True, False)
        if (label == cls).any()
    ]
    return sum(rates) / len(rates)


def test_probes(
    net: HookedModule, probes: dict[str, Probe], batch: MazeBatch, iterations: int
) -> dict[str, Any]:
    """Per iteration and hypothesis, on `batch`: the probe's balanced accuracy (`accuracy`); with
    no probe, from the move map `iters.{t}.hook_logits` on cells with a choice (not dead ends):
    P(move right | done) - P(move right | not done) (`moves`: near 1 when the hypothesis says
    which cells are solved) and the front of right moves in the hypothesis's own units
    (`move_front`: distance from the exit, or pruning round); the decoded wavefront radius."""
    floor, rounds = batch.distance < UNREACHABLE, fill_rounds(batch.distance)
    out: dict[str, Any] = {
        "t": [],
        "accuracy": {h: [] for h in HYPOTHESES},
        "moves": {h: [] for h in HYPOTHESES},
        "radius": [],
        "move_front": {h: [] for h in HYPOTHESES},
        "true_radius": [],
    }

    def record(hidden: torch.Tensor, hook: HookPoint) -> None:
        t = int(HIDDEN.search(hook.name).group(1)) + 1  # type: ignore[union-attr]
        truth = labels(batch.distance, rounds, t)
        out["t"].append(t)
        for name, probe in probes.items():
            score = probe.score(hidden)
            out["accuracy"][name].append(balanced_accuracy(score[floor], truth[name][floor]))
        out["radius"].append(decoded_radius(probes["wavefront"].score(hidden), batch))
        out["true_radius"].append(min(t, int(batch.distance[floor].max())))

    open_ = (batch.distance < UNREACHABLE).to(torch.int8)
    degree = sum(_shift(open_, dr, dc) for dr, dc in MOVES)
    cells = batch.labelled & (degree >= 2)  # a dead end's only move is always right: left out
    values = {"wavefront": batch.distance, "dead-end filling": rounds}

    def record_moves(logits: torch.Tensor, hook: HookPoint) -> None:
        t = int(LOGITS.search(hook.name).group(1)) + 1  # type: ignore[union-attr]
        truth = labels(batch.distance, rounds, t)
        right = batch.good.gather(1, logits.argmax(1, keepdim=True)).squeeze(1)
        for name in HYPOTHESES:
            done = truth[name] & cells
            pending = ~truth[name] & cells
            gap = _mean(right[done]) - _mean(right[pending]) if pending.any() else float("nan")
            out["moves"][name].append(gap)
            out["move_front"][name].append(front(values[name][cells], right[cells]))

    selectors = [(lambda n: bool(HIDDEN.search(n)), record), (lambda n: bool(LOGITS.search(n)), record_moves)]
    with net.hooks(selectors), torch.no_grad():
        net(batch.maze, iterations=iterations)
    return out


def _mean(x: torch.Tensor) -> float:
    return float(x.float().mean()) if x.numel() else float("nan")


def front(value: torch.Tensor, right: torch.Tensor, level: float = 0.95) -> int:
    """The first value (distance or round, over `(N,)` cells) at which under `level` of the
    cells move right, minus 1: how far the solved region reaches in that hypothesis's units."""
    top = int(value.max())
    counts = torch.bincount(value, minlength=top + 1)
    fraction = torch.bincount(value, weights=right.float(), minlength=top + 1) / counts.clamp_min(1)
    below = ((fraction < level) & (counts > 0)).nonzero()
    return int(below[0]) - 1 if below.numel() else top


def decoded_radius(score: torch.Tensor, batch: MazeBatch) -> int:
    """The first distance from the exit at which under half the cells read as reached, minus 1."""
    floor = batch.distance < UNREACHABLE
    dist = batch.distance[floor]
    reached = (score[floor] > 0).float()
    top = int(dist.max())
    counts = torch.bincount(dist, minlength=top + 1).clamp_min(1)
    fraction = torch.bincount(dist, weights=reached, minlength=top + 1) / counts
    below = (fraction < 0.5).nonzero()
    return int(below[0]) - 1 if below.numel() else top


def probe_study(
    net: HookedModule,
    control: HookedModule,
    fit_size: int,
    test_size: int,
    fit_mazes: int,
    test_mazes: int,
    layout_seed: int,
    seed: int = 0,
    distribution: str = "red-door/train",
) -> tuple[dict[str, Any], dict[str, Probe], MazeBatch]:
    """Fit on `fit_size` mazes (T = 2 x size), test on `test_size` (T = 2 x size); the control too."""
    fit = MazeSource(distribution, fit_mazes, seed, max(fit_mazes, 64), layout_seed).batch(fit_size, 0)
    test = MazeSource(distribution, test_mazes, seed + 1, max(test_mazes, 64), layout_seed + 1).batch(
        test_size, 0
    )
    device = next(net.parameters()).device
    fit, test = _on(fit, device), _on(test, device)
    probes = fit_probes(net, fit, 2 * fit_size, seed=seed)
    result = test_probes(net, probes, test, 2 * test_size)
    control_probes = fit_probes(control, fit, 2 * fit_size, seed=seed)
    result["control"] = test_probes(control, control_probes, test, 2 * test_size)["accuracy"]
    result.update(
        {"fit_size": fit_size, "test_size": test_size, "fit_mazes": fit_mazes, "test_mazes": test_mazes}
    )
    return result, probes, test
