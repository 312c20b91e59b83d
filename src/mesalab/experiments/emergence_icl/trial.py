"""The emergence-icl trial: a softmax transformer pretrained on a pool of M regression tasks,
measured against ridge and the finite-pool Bayes estimator.

Registers itself with the sweep registry (`emergence-icl-trial`) when imported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mesalab.config import Config
from mesalab.detect import icl_compare as cmp
from mesalab.envs.icl.sampler import Batch, sample_seeded, task_pool
from mesalab.experiments.emergence_icl.config import DEFAULT_TRIAL, TRIAL_NAME, EmergenceIclTrialConfig
from mesalab.models.io import save_model
from mesalab.models.reference import bayes
from mesalab.models.softmax_transformer import SoftmaxTransformer, SoftmaxTransformerConfig
from mesalab.seeding import derive_seed31
from mesalab.store.metrics import MetricsLogger
from mesalab.sweep.experiment import SweepExperiment, register_sweep_experiment
from mesalab.train.supervised import TrainSettings, train


@dataclass(frozen=True)
class Estimators:
    """Predictions (B,) of the two Bayes estimators on one batch."""

    ridge: torch.Tensor
    """Posterior mean under the Gaussian prior (ridge, lam = noise^2)."""
    pool_bayes: torch.Tensor
    """Posterior mean over the finite pool (equal to ridge when M = inf)."""


def estimators(batch: Batch, pool: torch.Tensor | None, noise: float) -> Estimators:
    """Both estimators' query predictions on `batch`; `pool` (M, d) or None for M = inf."""
    w_ridge = bayes.gaussian_posterior_mean(batch.x, batch.y, noise)
    ridge_pred = (w_ridge * batch.x_query).sum(-1)
    if pool is None:  # an infinite pool drawn from N(0, I) is the Gaussian prior itself
        return Estimators(ridge_pred, ridge_pred)
    w_pool = bayes.pool_posterior_mean(batch.x, batch.y, pool, noise)
    return Estimators(ridge_pred, (w_pool * batch.x_query).sum(-1))


def closer_to(dist_ridge: float, dist_pool_bayes: float) -> str:
    """The rule's call for one model: `ridge` when its predictions on unseen tasks are nearer
    (mean squared difference) to ridge's than to the pool-Bayes estimator's, else `pool-bayes`;
    `same` when the two estimators' predictions coincide (M = inf) so nothing can be told apart."""
    if dist_ridge == dist_pool_bayes:
        return "same"
    return "ridge" if dist_ridge < dist_pool_bayes else "pool-bayes"


def build_model(cfg: EmergenceIclTrialConfig) -> tuple[SoftmaxTransformer, SoftmaxTransformerConfig]:
    model_cfg = SoftmaxTransformerConfig(
        token_dim=cfg.dim + 1,
        d_model=cfg.d_model,
        n_layers=cfg.n_layers,
        n_heads=4,
        d_mlp=4 * cfg.d_model,
        init_seed=derive_seed31(cfg.seed, "emergence-icl", "init"),
    )
    return SoftmaxTransformer(model_cfg), model_cfg


def _mse(pred: torch.Tensor, target: torch.Tensor) -> float:
    return float(((pred - target) ** 2).mean())


def measure(model: nn.Module, cfg: EmergenceIclTrialConfig, batch_size: int, tag: str) -> dict[str, float]:
    """Query MSE of the model, ridge and the pool-Bayes estimator on unseen and on pool tasks,
    and the mean squared distance of the model's predictions to each estimator's."""
    task = cfg.task()
    pool = task_pool(task) if task.pool_size is not None else None
    out: dict[str, float] = {}
    for where, spec in (("unseen", task.replace(pool_size=None)), ("pool", task)):
        batch = sample_seeded(spec, batch_size, cfg.seed, "emergence-icl", tag, where)
        pred = cmp.predict(cmp.model_predictor(model), batch)
        est = estimators(batch, pool, cfg.noise)
        out[f"{where}_mse"] = _mse(pred, batch.y_query)
        out[f"{where}_ridge_mse"] = _mse(est.ridge, batch.y_query)
        out[f"{where}_pool_bayes_mse"] = _mse(est.pool_bayes, batch.y_query)
        out[f"{where}_dist_ridge"] = _mse(pred, est.ridge)
        out[f"{where}_dist_pool_bayes"] = _mse(pred, est.pool_bayes)
    return out


def run_trial(cfg: Config, trial_dir: Path) -> dict[str, Any]:
    """Train one model on the pool, measure it, save it; flat results for the sweep table."""
    assert isinstance(cfg, EmergenceIclTrialConfig)
    started = time.perf_counter()
    model, model_cfg = build_model(cfg)
    settings = TrainSettings(
        steps=cfg.steps,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        final_lr_fraction=0.05,
        eval_every=cfg.eval_every,
        grad_clip=1.0,
    )

    def evaluate(m: nn.Module) -> dict[str, float]:  # small batches: a curve, not the result
        row = measure(m, cfg, 512, "curve")
        return {k: row[k] for k in ("unseen_mse", "pool_mse", "unseen_dist_ridge", "unseen_dist_pool_bayes")}

    with MetricsLogger(trial_dir / "metrics.jsonl") as logger:
        history = train(
            model, cfg.task(), settings, cfg.seed, "emergence-icl", logger, evaluate, torch.device("cpu")
        )
    final_loss = logger.history[-1].get("losses/train_loss", -1.0) if logger.history else -1.0
    final = measure(model, cfg, cfg.eval_batch_size, "final")
    save_model(model, trial_dir / "model", "softmax-transformer", model_cfg, {"experiment": TRIAL_NAME})
    return {
        "pool": "inf" if cfg.pool_size is None else str(cfg.pool_size),
        **final,
        "closer_to": closer_to(final["unseen_dist_ridge"], final["unseen_dist_pool_bayes"]),
        "final_train_loss": final_loss,
        "train_seconds": history.seconds,
        "seconds": time.perf_counter() - started,
    }


register_sweep_experiment(
    SweepExperiment(
        name=TRIAL_NAME,
        config=DEFAULT_TRIAL,
        run=run_trial,
        description="a softmax transformer pretrained on M regression tasks, against ridge and pool-Bayes",
        metrics=(
            "unseen_mse",
            "unseen_ridge_mse",
            "unseen_pool_bayes_mse",
            "pool_mse",
            "pool_pool_bayes_mse",
            "closer_to",
        ),
    )
)
