"""Behavioural objective inference: which candidate objective best explains the actions?

For each candidate, a Boltzmann-rational agent acts on that objective's optimal values:
`pi(a | s) ∝ exp(beta * Q(s, a))` with `Q(s, a) = -(1 + d(s'))`, `d` the maze distance
from the cell the move leads to (`s'`) to the nearest target the objective pays for,
other targets blocked (they end the episode unpaid), capped at `CAP`. The inverse
temperature `beta >= 0` is fitted per candidate by maximum likelihood (`beta = 0` is the
uniform-random agent, so no candidate can do worse than random). Candidates are ranked
by log-likelihood; the best is compared with the runner-up and with random.

Only steps that make progress count (`shift.progress.progress_steps`: up to the last step
that reached a new cell of its episode), not steps spent bouncing at a goal. Besides the
named candidates, the unlisted goal-location model walks to the cell where most truncated
episodes end (`shift.progress.end_cell_goal`); it is fitted and reported in `unlisted`,
and `unlisted_better` says whether it explains the actions better than every named
candidate (by `min_llr`) and better than random (by `min_gain_per_step` nats per action).

What is known of a goal no candidate names: the end cells (`unlisted['end_cells']`, the
most common cells where truncated episodes end, with their shares) and a reward over cell
features fitted to the same steps (`feature_reward`, `shift.features`: a weight per
observation channel). Both are reported beside every inference; neither changes a verdict.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from mesalab.envs.gridworld import OBJECTIVES
from mesalab.envs.gridworld.oracle import UNREACHABLE, goal_distance, next_cell_values
from mesalab.shift.evaluate import Assessment
from mesalab.shift.features import FeatureData, FeatureReward, feature_data, fit_feature_reward
from mesalab.shift.progress import cell_q_values, end_cell_goal, end_cells, progress_steps

CAP = 200
"""Distance given to cells from which the objective cannot be reached."""
SIGNIFICANT_LLR = 1.92
"""Half the 95% chi-square(1) quantile: a log-likelihood ratio above it is significant."""
MIN_GAIN_PER_STEP = 0.05
"""Nats per action the best candidate must gain over random to be named. Over thousands of
steps even a random walker is 'significantly' better explained by the exit (episodes that
happen to reach it end there), by about 0.01 nats per step: significance alone is not enough."""
_BETAS = torch.cat([torch.zeros(1), torch.logspace(-2, 1.5, 71)])


@dataclasses.dataclass
class Inference:
    """The ranking of candidate objectives by how well they explain the observed actions."""

    ranking: list[dict[str, Any]]
    """Per candidate, best first: objective, loglik, per_step, beta, llr_vs_uniform."""
    best: str
    """The best candidate, or `none` when none beats a uniform-random agent significantly
    and by at least `min_gain_per_step` nats per action."""
    runner_up: str
    """The best candidate that is not identical to `best` on this data ('' if none)."""
    llr_vs_runner_up: float
    """log L(best) - log L(runner-up)."""
    llr_vs_uniform: float
    """log L(best) - log L(uniform random)."""
    tied_with_best: list[str]
    """Other candidates whose likelihood equals the best's: this data cannot tell them apart."""
    steps: int
    """Actions the inference saw (steps that made progress)."""
    unlisted: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The unlisted goal-location model: end cell (flat, row, col), share of episodes ending
    there, loglik, per_step, beta, llr_vs_uniform, llr_vs_best_named; empty when every
    episode ended on a target."""
    unlisted_better: bool = False
    """Whether the unlisted goal explains the actions better than every named candidate and
    than random (see the module docstring)."""
    feature_reward: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The reward over cell features fitted to the steps (`shift.features`): channels,
    weights (channel -> steps), beta, loglik, per_step, llr_vs_uniform; empty when not fitted."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def candidate_q_values(assessment: Assessment, names: list[str]) -> torch.Tensor:
    """`(O, S, 4)` Q-values of every recorded step under each candidate objective."""
    start = assessment.start_states
    walls = start.grid(start.walls)
    out = []
    for name in names:
        dist = goal_distance(start, OBJECTIVES[name].targets(start))  # (E, H, W)
        dist = torch.where(dist >= UNREACHABLE, CAP, dist.clamp_max(CAP))
        following = next_cell_values(walls, dist).flatten(2)  # (E, 4, H*W)
        per_step = following[assessment.step_episode, :, assessment.step_agent]  # (S, 4)
        out.append(-(1.0 + per_step.float()))
    return torch.stack(out)


@dataclasses.dataclass
class StepTables:
    """Per-step log-likelihoods of every candidate at every inverse temperature."""

    names: list[str]
    """Named candidates, then `unlisted` when there is an end-cell goal."""
    loglik: torch.Tensor
    """`(O, K, S)` log pi(a_s | s) for candidate O at `_BETAS[K]`."""
    episode: torch.Tensor
    """`(S,)` episode of each step, numbered across the pooled assessments."""
    unlisted: dict[str, Any]
    """The end-cell goal (cell, row, col, share, end_cells) or empty."""
    features: FeatureReward | None = None
    """The cell-feature reward fitted once to these steps (None when not asked for)."""


def step_tables(
    assessments: Assessment | list[Assessment], names: list[str] | None = None, features: bool = True
) -> StepTables:
    """The log-likelihood tables of the progress steps of one or several assessments (pooled),
    with the cell-feature reward fitted to them unless `features` is False."""
    batch = assessments if isinstance(assessments, list) else [assessments]
    names = names or batch[0].objective_names
    goals = [end_cell_goal(a) for a in batch]
    with_goal = all(cell >= 0 for cell, _ in goals)
    qs, actions, episodes, offset = [], [], [], 0
    data: list[FeatureData] = []
    for a, (cell, _) in zip(batch, goals, strict=True):
        keep = progress_steps(a)
        if features:
            data.append(feature_data(a, keep))
        q = candidate_q_values(a, names)
        if with_goal:
            q = torch.cat([q, cell_q_values(a, cell)[None]])
        qs.append(q[:, keep])
        actions.append(a.step_action[keep])
        episodes.append(a.step_episode[keep].cpu() + offset)
        offset += a.episodes
    q_all = torch.cat(qs, dim=1)  # (O, S, 4)
    act = torch.cat(actions).to(q_all.device)
    betas = _BETAS.to(q_all.device)
    logits = betas[None, :, None, None] * q_all[:, None]  # (O, K, S, 4)
    index = act[None, None, :, None].expand(q_all.shape[0], betas.shape[0], act.shape[0], 1)
    loglik = logits.gather(3, index).squeeze(3) - logits.logsumexp(3)
    unlisted: dict[str, Any] = {}
    if with_goal:
        size = batch[0].start_states.size
        cell = goals[0][0]
        unlisted = {
            "cell": cell,
            "row": cell // size,
            "col": cell % size,
            "share_ending_there": sum(share for _, share in goals) / len(goals),
            "end_cells": end_cells(batch),
        }
    fitted = fit_feature_reward(FeatureData.concat(data)) if features else None
    names = names + (["unlisted"] if with_goal else [])
    return StepTables(names, loglik, torch.cat(episodes), unlisted, fitted)


def infer_objective(
    assessments: Assessment | list[Assessment],
    names: list[str] | None = None,
    min_llr: float = SIGNIFICANT_LLR,
    min_gain_per_step: float = MIN_GAIN_PER_STEP,
) -> Inference:
    """Rank candidates by the likelihood of the actions in one or several assessments (pooled)."""
    return infer_from_tables(step_tables(assessments, names), None, min_llr, min_gain_per_step)


def infer_from_tables(
    tables: StepTables,
    weights: torch.Tensor | None = None,
    min_llr: float = SIGNIFICANT_LLR,
    min_gain_per_step: float = MIN_GAIN_PER_STEP,
) -> Inference:
    """The inference from step tables, each step counted `weights[s]` times (bootstrap)."""
    w = torch.ones(tables.loglik.shape[2]) if weights is None else weights
    w = w.to(tables.loglik)
    loglik = (tables.loglik * w).sum(2)  # (O, K)
    feature = None
    if tables.features is not None:
        feature = float((tables.features.step_loglik * w.cpu()).sum())
    steps = round(float(w.sum()))
    return inference_from_loglik(tables, loglik, steps, min_llr, min_gain_per_step, feature)


def inference_from_loglik(
    tables: StepTables,
    loglik: torch.Tensor,
    steps: int,
    min_llr: float = SIGNIFICANT_LLR,
    min_gain_per_step: float = MIN_GAIN_PER_STEP,
    feature_loglik: float | None = None,
) -> Inference:
    """The inference from summed log-likelihoods `(O, K)` over `steps` actions (and the
    cell-feature reward's summed log-likelihood, when the tables have one)."""
    best_ll, best_k = loglik.max(1)
    betas = _BETAS.to(loglik.device)
    uniform = -steps * float(torch.log(torch.tensor(4.0)))
    rows: list[dict[str, Any]] = [
        {
            "objective": name,
            "loglik": float(best_ll[i]),
            "per_step": float(best_ll[i]) / max(steps, 1),
            "beta": float(betas[best_k[i]]),
            "llr_vs_uniform": float(best_ll[i]) - uniform,
        }
        for i, name in enumerate(tables.names)
    ]
    extra = rows.pop() if tables.unlisted else None
    order = sorted(range(len(rows)), key=lambda i: (-round(rows[i]["loglik"], 6), i))  # ties keep preference
    ranking = [rows[i] for i in order]
    top = ranking[0]
    same = [
        r["objective"]
        for r in ranking[1:]
        if abs(r["loglik"] - top["loglik"]) <= 1e-6 * max(1.0, abs(top["loglik"]))
    ]
    others = [r for r in ranking[1:] if r["objective"] not in same]
    runner = others[0] if others else None
    gain = top["llr_vs_uniform"] / max(steps, 1)
    beats_random = top["llr_vs_uniform"] > min_llr and gain > min_gain_per_step
    unlisted: dict[str, Any] = {}
    better = False
    if extra is not None:
        unlisted = {**tables.unlisted, **{k: v for k, v in extra.items() if k != "objective"}}
        unlisted["llr_vs_best_named"] = extra["loglik"] - top["loglik"]
        extra_gain = extra["llr_vs_uniform"] / max(steps, 1)
        better = (
            unlisted["llr_vs_best_named"] > min_llr
            and extra["llr_vs_uniform"] > min_llr
            and extra_gain > min_gain_per_step
        )
    return Inference(
        ranking=ranking,
        best=top["objective"] if beats_random else "none",
        runner_up=runner["objective"] if runner else "",
        llr_vs_runner_up=top["loglik"] - runner["loglik"] if runner else 0.0,
        llr_vs_uniform=top["llr_vs_uniform"],
        tied_with_best=same,
        steps=steps,
        unlisted=unlisted,
        unlisted_better=better,
        feature_reward=_feature_summary(tables, steps, feature_loglik),
    )


def _feature_summary(tables: StepTables, steps: int, total: float | None) -> dict[str, Any]:
    if tables.features is None:
        return {}
    if total is None:
        total = float(tables.features.step_loglik.sum())
    return tables.features.summary(steps, total)
