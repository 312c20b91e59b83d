"""emergence-icl: when does a transformer stop memorising its task pool and regress in context?

Raventós et al. (2023) pretrain on in-context linear regression whose task weights come
from a finite pool of M vectors. With few tasks the model behaves like the Bayes-optimal
estimator *for the pool* (it identifies which pool task the context came from: memorising);
past a threshold in M it behaves like ridge, the Bayes-optimal estimator for the Gaussian
prior the pool was drawn from (it learns in context), and so generalises to unseen tasks.

One trial (`emergence-icl-trial`, a `SweepExperiment`) trains one small softmax
transformer on a pool of `pool_size` tasks (None: a fresh task per sequence, M = inf) and
measures its query error on unseen tasks and on pool tasks beside ridge and the
finite-pool Bayes estimator. `run` sweeps M x seeds on Ray and writes the report.

Why the softmax transformer and not linear self-attention: an LSA's prediction is a
fixed low-degree polynomial of the context, so it cannot form the posterior over a
discrete pool (a softmax over task likelihoods); it could never show the memorising
solution. The softmax transformer with MLPs (the icl-gd one, made narrower) can express
both, as the GPT-2 models of Raventós et al. can.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mesalab.config import Config, check
from mesalab.envs.icl import bayes
from mesalab.envs.icl import compare as cmp
from mesalab.envs.icl.sampler import Batch, sample_seeded, task_pool
from mesalab.envs.icl.spec import TaskSpec
from mesalab.experiments.emergence_sweep import run_emergence
from mesalab.experiments.icl_gd_train import TrainSettings, train
from mesalab.models.io import save_model
from mesalab.models.softmax_transformer import SoftmaxTransformer, SoftmaxTransformerConfig
from mesalab.seeding import derive_seed31
from mesalab.store import read_json
from mesalab.store.metrics import MetricsLogger
from mesalab.sweep.experiment import SweepExperiment, register_sweep_experiment
from mesalab.sweep.run import SweepResult, TrialRecord

TRIAL_NAME = "emergence-icl-trial"
"""Name of the trial in the sweep registry."""


@dataclass(frozen=True)
class EmergenceIclTrialConfig(Config):
    """One model trained on a pool of M regression tasks and measured against both Bayes estimators."""

    seed: int = 0
    """Seed of the pool, the initial weights, the training batches and the evaluation batches."""
    pool_size: int | None = None
    """Pretraining task pool M; None draws a fresh task for every sequence (M = inf)."""
    dim: int = 5
    """Input dimension d."""
    n_context: int = 10
    """Context pairs N per sequence."""
    noise: float = 0.5
    """Standard deviation of the target noise (> 0: the pool posterior needs it)."""
    steps: int = 2000
    """Training steps (Adam, cosine-decayed)."""
    batch_size: int = 256
    """Sequences per training step."""
    lr: float = 1e-3
    """Initial Adam learning rate."""
    d_model: int = 32
    """Residual width of the transformer (MLP width 4x, 4 heads)."""
    n_layers: int = 2
    """Transformer blocks."""
    eval_every: int = 250
    """Steps between the small evaluations logged to `metrics.jsonl`."""
    eval_batch_size: int = 4096
    """Sequences per final evaluation batch (one of unseen tasks, one of pool tasks)."""

    def validate(self) -> None:
        check(
            self.pool_size is None or self.pool_size >= 1,
            "pool_size",
            f"must be >= 1 or None (infinite), got {self.pool_size}",
        )
        check(self.dim >= 1, "dim", f"must be >= 1, got {self.dim}")
        check(self.n_context >= 1, "n_context", f"must be >= 1, got {self.n_context}")
        check(self.noise > 0, "noise", f"must be > 0 (the pool posterior needs noise), got {self.noise}")
        for name in ("steps", "batch_size", "eval_every", "eval_batch_size", "n_layers"):
            check(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        check(self.lr > 0, "lr", f"must be positive, got {self.lr}")
        check(
            self.d_model >= 4 and self.d_model % 4 == 0,
            "d_model",
            f"must be a multiple of 4, got {self.d_model}",
        )

    def task(self) -> TaskSpec:
        """The pretraining distribution: N(0, I) weights, from the pool when M is finite."""
        return TaskSpec(
            dim=self.dim,
            n_context=self.n_context,
            noise=self.noise,
            pool_size=self.pool_size,
            pool_seed=derive_seed31(self.seed, "emergence-icl", "pool"),
        )


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
    final_loss = logger.history[-1].get("emergence-icl/train_loss", -1.0) if logger.history else -1.0
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


DEFAULT_TRIAL = EmergenceIclTrialConfig()
"""The default trial: d = 5, N = 10, noise 0.5, a 32-wide 2-block transformer, 2000 steps."""
QUICK_TRIAL = DEFAULT_TRIAL.replace(steps=600, eval_every=200, eval_batch_size=2048)
"""The `--quick` trial: 600 steps."""
DEFAULT_POOL_SIZES: tuple[int | None, ...] = (1, 4, 16, 64, 256, 1024, None)
"""M from 1 to effectively infinite (None)."""
QUICK_POOL_SIZES: tuple[int | None, ...] = (1, 16, None)

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


# ---- the sweep: pool sizes x seeds, aggregated ------------------------------------------------------


@dataclass(frozen=True)
class EmergenceIclConfig(Config):
    """The whole experiment: which pool sizes, how many seeds, and the trial at each."""

    pool_sizes: tuple[int | None, ...] = DEFAULT_POOL_SIZES
    """Pretraining pool sizes M swept; None is M = inf (a fresh task per sequence)."""
    seeds: int = 2
    """Seeds per pool size (each seed draws its own pool)."""
    trial: EmergenceIclTrialConfig = DEFAULT_TRIAL
    """The trial run at each (M, seed); its `pool_size` and `seed` are replaced."""

    def validate(self) -> None:
        check(len(self.pool_sizes) >= 1, "pool_sizes", "must name at least one pool size")
        for m in self.pool_sizes:
            check(m is None or m >= 1, "pool_sizes", f"each must be >= 1 or None, got {m}")
        check(len(set(self.pool_sizes)) == len(self.pool_sizes), "pool_sizes", "must not repeat a value")
        check(self.seeds >= 1, "seeds", f"must be >= 1, got {self.seeds}")


QUICK = EmergenceIclConfig(pool_sizes=QUICK_POOL_SIZES, seeds=1, trial=QUICK_TRIAL)
"""The `--quick` preset: M in {1, 16, inf}, one seed, 600 steps (a demo, not a finding)."""
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


def label(pool_size: int | None) -> str:
    return "inf" if pool_size is None else str(pool_size)


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
    from mesalab.experiments.emergence_icl_report import write_report

    return run_emergence(
        "emergence-icl",
        cfg,
        TRIAL_NAME,
        "pool_size",
        lambda c: list(c.pool_sizes),
        aggregate,
        write_report,
        out_root,
        workers,
        address,
        name,
        threads_per_trial,
        progress,
    )


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


def load(sweep_dir: Path) -> SweepResult:
    """A finished emergence-icl sweep read back from its folder (for reports and tests)."""
    from mesalab.sweep.run import load_trial

    spec = read_json(sweep_dir / "sweep.json")
    return SweepResult(sweep_dir, spec["experiment"], [load_trial(sweep_dir / t) for t in spec["trials"]])
