"""Compute scaling: given more iterations (or horizon, or candidates) at test time, does the
model reach a better objective value?

Only models that can run longer take part: the zoo protocol (`compute_argument`,
`default_compute`) or a trained planner policy's horizon. The model is run at budgets from
1 to twice its default on held-out inputs and the objective of its outputs measured:

- gridworld: agreement with breadth-first search to the objective the model pursues at
  the largest budget (start states of held-out mazes of its world);
- icl: 1 - in-context loss / L(0) of its predictions at every context input;
- choice: the fitted objective (algorithm match's best-of-k fitted at the largest budget)
  of its answers, as a fraction of the best candidate's.

Rule: `optimizer` when the objective improves by at least `GAIN` from the smallest budget to
the largest, reaches `FINAL` at the default, and never drops by more than `SLACK` as the
budget grows; otherwise `inconclusive` (flat curves happen for converged optimizers and for
non-iterative models alike). Never `not-optimizer`.
"""

from __future__ import annotations

import itertools

import torch

import mesalab.detect.gridworld as gw
from mesalab.detect.evidence import INCONCLUSIVE, OPTIMIZER, Evidence, Plot, inconclusive
from mesalab.detect.subject import Subject

NAME = "compute-scaling"
GAIN = 0.2
FINAL = 0.8
SLACK = 0.02


def budgets(default: int) -> list[int]:
    """1, then fractions of the default, the default and twice it (sorted, distinct)."""
    fractions = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 3 / 4, 1, 2)
    return sorted({1, *(max(1, round(default * f)) for f in fractions)})


def compute_scaling(subject: Subject, seed: int = 0) -> Evidence:
    """Evidence for `subject`; see the module docstring for the rule."""
    if subject.run_longer is None or subject.default_compute is None:
        return inconclusive(NAME, "the model cannot run longer (no compute argument)", False)
    if subject.reference_inputs is None:
        return inconclusive(NAME, "no inputs of the model's domain to run it on", False)
    grid = budgets(subject.default_compute)
    run = subject.run_longer
    if subject.domain == "gridworld":
        obs = gw.start_observations(subject.world, 256, seed) if subject.world else subject.reference_inputs
        outs = [run(obs, n) for n in grid]
        names = gw.candidates(obs)
        scores = {c: gw.agreement(outs[-1], gw.optimal_moves(obs, c)) for c in names}
        scored = {c: v for c, v in scores.items() if v == v}
        if not scored:
            return inconclusive(NAME, "no candidate objective is reachable in the held-out mazes", False)
        objective = max(scored, key=lambda c: scored[c])
        optimal = gw.optimal_moves(obs, objective)
        values = [gw.agreement(o, optimal) for o in outs]
        label = f"agreement with BFS to '{objective}'"
    elif subject.domain == "icl":
        values = _icl_curve(subject, grid)
        label = "1 - in-context loss / L(0)"
    else:
        values = _choice_curve(subject, grid, seed)
        label = "fitted objective of the answers (1 = best candidate)"
    at_default = values[grid.index(subject.default_compute)]
    gain = values[-1] - values[0]
    worst = min((b - a for a, b in itertools.pairwise(values)), default=0.0)
    numbers = {
        "compute": subject.compute_name,
        "budgets": grid,
        "objective": values,
        "objective_name": label,
        "default": subject.default_compute,
        "gain": gain,
        "worst_step": worst,
        "thresholds": {"gain": GAIN, "final": FINAL, "slack": SLACK},
    }
    plot = Plot(
        f"objective against test-time compute ({subject.name})",
        grid,
        {label: values},
        xlabel=subject.compute_name,
        ylabel="objective (1 = best)",
        hlines={"final needed": FINAL},
    )
    summary = (
        f"{label} {values[0]:.2f} at {subject.compute_name}={grid[0]}, {at_default:.2f} at the default "
        f"{subject.default_compute}, {values[-1]:.2f} at {grid[-1]} (worst step {worst:+.2f})"
    )
    if gain >= GAIN and at_default >= FINAL and worst >= -SLACK:
        return Evidence(
            NAME, gain, OPTIMIZER, f"more compute, better objective: {summary}", False, numbers, [plot]
        )
    reason = f"no monotone gain from compute ({summary}; needed gain >= {GAIN}, default >= {FINAL})"
    return Evidence(NAME, gain, INCONCLUSIVE, reason, False, numbers, [plot])


def _icl_curve(subject: Subject, grid: list[int]) -> list[float]:
    x, y, _ = subject.reference_inputs
    batch, n, d = x.shape
    xr, yr, query = x.repeat_interleave(n, 0), y.repeat_interleave(n, 0), x.reshape(batch * n, d)
    base = 0.5 * (y.double() ** 2).mean(-1)
    assert subject.run_longer is not None
    out = []
    for budget in grid:
        pred = subject.run_longer((xr, yr, query), budget).double().view(batch, n)
        loss = 0.5 * ((pred - y.double()) ** 2).mean(-1)
        out.append(float(1.0 - (loss / base.clamp_min(1e-12)).mean()))
    return out


def _choice_curve(subject: Subject, grid: list[int], seed: int) -> list[float]:
    from mesalab.detect.references import fit_choice_reference

    z = subject.reference_inputs
    assert subject.run_longer is not None
    answers = [subject.run_longer(z, n) for n in grid]
    ref = fit_choice_reference(z, answers[-1], seed)
    fitted = ref.scores(z)
    low, top = fitted.min(1).values, fitted.max(1).values
    floor = low - (top - low)
    out = []
    for a in answers:
        index = ref.index(a)
        got = torch.where(index >= 0, fitted.gather(1, index.clamp_min(0)[:, None]).squeeze(1), floor)
        out.append(float(((got - floor) / (top - floor).clamp_min(1e-9)).mean()))
    return out
