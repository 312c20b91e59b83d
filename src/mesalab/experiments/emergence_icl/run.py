"""emergence-icl: when does a transformer stop memorising its task pool and regress in context?

Raventós et al. (2023) pretrain on in-context linear regression whose task weights come
from a finite pool of M vectors. With few tasks the model behaves like the Bayes-optimal
estimator *for the pool* (it identifies which pool task the context came from: memorising);
past a threshold in M it behaves like ridge, the Bayes-optimal estimator for the Gaussian
prior the pool was drawn from (it learns in context), and so generalises to unseen tasks.

One trial (`emergence-icl-trial`, a `SweepExperiment`) trains one small softmax
transformer on a pool of `pool_size` tasks (None: a fresh task per sequence, M = inf) and
measures its query error on unseen tasks and on pool tasks beside ridge and the
finite-pool Bayes estimator (`trial.py`). `run` sweeps M x seeds on Ray with the shared
emergence skeleton and writes the report (`report.py`).

Why the softmax transformer and not linear self-attention: an LSA's prediction is a
fixed low-degree polynomial of the context, so it cannot form the posterior over a
discrete pool (a softmax over task likelihoods); it could never show the memorising
solution. The softmax transformer with MLPs (the icl-gd one, made narrower) can express
both, as the GPT-2 models of Raventós et al. can.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mesalab.experiments.emergence import Variant, run_emergence
from mesalab.experiments.emergence.sweep import load as load
from mesalab.experiments.emergence_icl.config import TRIAL_NAME, EmergenceIclConfig, label
from mesalab.experiments.emergence_icl.report import write_report
from mesalab.experiments.emergence_icl.trial import closer_to
from mesalab.sweep.run import TrialRecord

KEYS = (
    "unseen_mse",
    "unseen_ridge_mse",
    "unseen_pool_bayes_mse",
    "pool_mse",
    "pool_ridge_mse",
    "pool_pool_bayes_mse",
    "unseen_dist_ridge",
    "unseen_dist_pool_bayes",
)
"""Results averaged per pool size (geometric means over seeds: errors span decades)."""
RULE = (
    "the transition is the smallest finite M in the grid from which on (at it and at every larger "
    "finite M) the model's predictions on unseen tasks are nearer ridge's than the pool-Bayes "
    "estimator's: mean squared difference of predictions, geometric mean over seeds"
)
"""How the finding is read off the table."""


def run(
    cfg: EmergenceIclConfig,
    out_root: Path = Path("runs"),
    workers: int = 2,
    address: str | None = None,
    name: str | None = None,
    threads_per_trial: int = 1,
    progress: bool = True,
) -> Path:
    """Run (or resume) the sweep, aggregate it, write `emergence.json` and `report.html`."""
    return run_emergence(VARIANT, cfg, out_root, workers, address, name, threads_per_trial, progress)


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(max(v, 1e-30)) for v in values) / len(values))


def aggregate(trials: list[TrialRecord], cfg: EmergenceIclConfig) -> dict[str, Any]:
    """Per pool size: geometric means over seeds, the rule's call, and the per-seed calls."""
    rows = []
    for m in cfg.pool_sizes:
        mine = [t for t in trials if t.params.get("pool_size") == m]
        res = [t.results for t in mine if t.status == "done"]
        row: dict[str, Any] = {
            "pool_size": label(m),
            "seeds_done": len(res),
            "seeds_failed": len(mine) - len(res),
        }
        if res:
            row.update({key: _geomean([float(r[key]) for r in res]) for key in KEYS})
            row["unseen_mse_min"] = min(float(r["unseen_mse"]) for r in res)
            row["unseen_mse_max"] = max(float(r["unseen_mse"]) for r in res)
            row["closer_to"] = closer_to(row["unseen_dist_ridge"], row["unseen_dist_pool_bayes"])
            row["seeds_closer_to_ridge"] = sum(r["closer_to"] == "ridge" for r in res)
        rows.append(row)
    return {"per_pool_size": rows, "finding": finding(rows)}


def finding(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`RULE` applied to the aggregated rows; also whether a memorising regime was seen at all."""
    finite = sorted(
        (r for r in rows if r["pool_size"] != "inf" and r["seeds_done"] and r["closer_to"] != "same"),
        key=lambda r: int(r["pool_size"]),
    )
    threshold = None
    for row in reversed(finite):
        if row["closer_to"] != "ridge":
            break
        threshold = int(row["pool_size"])
    memorising = [int(r["pool_size"]) for r in finite if r["closer_to"] == "pool-bayes"]
    infinite = next((r for r in rows if r["pool_size"] == "inf" and r["seeds_done"]), None)
    return {
        "rule": RULE,
        "threshold": threshold,
        "largest_memorising": max(memorising) if memorising else None,
        "inf_over_ridge": infinite["unseen_mse"] / infinite["unseen_ridge_mse"] if infinite else None,
    }


VARIANT: Variant[EmergenceIclConfig] = Variant(
    "emergence-icl", TRIAL_NAME, "pool_size", lambda c: list(c.pool_sizes), aggregate, write_report
)
"""emergence-icl as a variant of the emergence skeleton."""
