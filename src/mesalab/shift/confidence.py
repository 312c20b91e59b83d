"""Bootstrap confidence of a verdict and intervals of the inferred objectives.

Episodes are resampled with replacement, on the training distribution and on the shift
independently; each resample recomputes the two success rates, the objective inference
(the per-step likelihood tables are computed once and reweighted by how often each
episode was drawn) and the verdict. A verdict's confidence is the share of resamples that
give the same label and proxy; each candidate objective (and the unlisted goal) gets a 95%
percentile interval of its gain over random in nats per action. The unlisted goal's cell
is the one found on all episodes, and the cell-feature reward (`shift.features`) is fitted
once on all episodes: resamples reweight their per-step likelihoods and refit neither.
"""

from __future__ import annotations

from typing import Any

import torch

from mesalab.seeding import generator
from mesalab.shift.evaluate import Assessment
from mesalab.shift.infer import StepTables, inference_from_loglik, step_tables
from mesalab.shift.verdict import Verdict, VerdictConfig, decide_verdict

RESAMPLES = 200
"""Bootstrap resamples per verdict."""


def _counts(episodes: int, gen: torch.Generator) -> torch.Tensor:
    return torch.bincount(torch.randint(episodes, (episodes,), generator=gen), minlength=episodes)


def bootstrap_verdict(
    train: Assessment,
    shifted: Assessment,
    verdict: Verdict,
    cfg: VerdictConfig | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
    tables: StepTables | None = None,
) -> dict[str, Any]:
    """`confidence` (share of resamples with `verdict`'s label and proxy), `label_confidence`
    (same label), `resamples`, and `intervals`: candidate -> [2.5%, 97.5%] of its gain over
    random per action (`unlisted` and `feature-reward` too). `tables`: the shift's step
    tables when the caller has them (`step_tables(shifted)`)."""
    tables = tables if tables is not None else step_tables(shifted)
    gen = generator(seed, "shift", "bootstrap", shifted.distribution)
    train_ok, shift_ok = train.returns[:, 0].cpu(), shifted.returns[:, 0].cpu()
    same = same_label = 0
    gains: dict[str, list[float]] = {}
    train_counts = torch.stack([_counts(train.episodes, gen) for _ in range(resamples)])  # (R, E)
    shift_counts = torch.stack([_counts(shifted.episodes, gen) for _ in range(resamples)])
    weights = shift_counts[:, tables.episode].to(tables.loglik)  # (R, S)
    flat = tables.loglik.flatten(0, 1)  # (O * K, S)
    logliks = (weights @ flat.T).view(resamples, *tables.loglik.shape[:2])  # one product for all
    steps_each = weights.sum(1)
    features = None
    if tables.features is not None:
        features = weights.cpu() @ tables.features.step_loglik.to(weights.dtype)  # (R,)
    for r in range(resamples):
        train_rate = float((train_counts[r] * train_ok).sum()) / train.episodes
        shift_rate = float((shift_counts[r] * shift_ok).sum()) / shifted.episodes
        feature = None if features is None else float(features[r])
        inference = inference_from_loglik(
            tables, logliks[r], round(float(steps_each[r])), feature_loglik=feature
        )
        again = decide_verdict(train_rate, shift_rate, inference, cfg)
        same_label += again.label == verdict.label
        same += (again.label, again.proxy) == (verdict.label, verdict.proxy)
        steps = max(inference.steps, 1)
        for row in inference.ranking:
            gains.setdefault(row["objective"], []).append(row["llr_vs_uniform"] / steps)
        if inference.unlisted:
            gains.setdefault("unlisted", []).append(inference.unlisted["llr_vs_uniform"] / steps)
        if inference.feature_reward:
            gains.setdefault("feature-reward", []).append(inference.feature_reward["llr_vs_uniform"] / steps)
    intervals = {}
    for name, values in gains.items():
        v = torch.tensor(values, dtype=torch.float64)
        intervals[name] = [float(v.quantile(0.025)), float(v.quantile(0.975))]
    return {
        "confidence": same / max(resamples, 1),
        "label_confidence": same_label / max(resamples, 1),
        "resamples": resamples,
        "intervals": intervals,
    }
