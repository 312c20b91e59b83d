"""The emergence-icl report: memorising the task pool or regressing in context, one HTML file."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from mesalab.experiments.emergence.report import ReportParts
from mesalab.experiments.emergence.report import write_report as write_emergence_report
from mesalab.experiments.emergence_icl.config import QUICK, EmergenceIclConfig, label
from mesalab.report.html import EmbeddedFigure, Section, Table, embed_figure, esc
from mesalab.sweep.run import SweepResult, TrialRecord


def write_report(result: SweepResult, cfg: EmergenceIclConfig, summary: dict[str, Any]) -> Path:
    """Write `report.html` into the sweep folder (it replaces the sweep's generic one)."""
    return write_emergence_report(PARTS, result, cfg, summary)


def _sections(
    result: SweepResult, cfg: EmergenceIclConfig, summary: dict[str, Any], done: list[TrialRecord]
) -> list[Section]:
    rows = summary["per_pool_size"]
    return [
        Section(
            "Error against the size of the pretraining pool",
            [
                "Query MSE on <b>unseen</b> tasks (w drawn fresh from N(0, I)) and on tasks "
                "<b>from the pool</b>, for the trained model (dots: seeds; line: geometric mean), "
                "ridge (the Bayes-optimal estimator for the Gaussian prior, lambda = noise^2) and "
                "the pool-Bayes estimator (the posterior mean over the M pool tasks). At M = inf "
                "the two estimators are the same.",
            ],
            figures=[_error_figure(rows, done, cfg), _distance_figure(rows, done, cfg)],
        )
    ]


def _setup(cfg: EmergenceIclConfig) -> str:
    t = cfg.trial
    return (
        f"Task: d = {t.dim}, N = {t.n_context} context pairs, x uniform in [-1, 1]^d, "
        f"w ~ N(0, I), noise standard deviation {t.noise:g}; each seed draws its own pool. "
        f"Model: softmax transformer, {t.n_layers} blocks, width {t.d_model}, 4 heads, MLP "
        f"{4 * t.d_model}; Adam {t.lr:g} cosine-decayed over {t.steps:,} steps of "
        f"{t.batch_size} sequences. Final evaluation on {t.eval_batch_size} sequences per "
        "distribution."
    )


def _finding_text(summary: dict[str, Any], cfg: EmergenceIclConfig) -> str:
    found = summary["finding"]
    parts = []
    if found["threshold"] is None:
        parts.append("No transition within the grid: at the largest finite M the model is not ridge-like.")
    else:
        parts.append(
            f"The model switches from memorising the pool to regressing in context at M = "
            f"{found['threshold']} (the smallest M in the grid from which on it is ridge-like)."
        )
    if found["largest_memorising"] is None:
        parts.append("No pool-Bayes-like (memorising) point was seen in the grid.")
    else:
        parts.append(f"The largest M at which it is pool-Bayes-like is {found['largest_memorising']}.")
    if found["inf_over_ridge"] is not None:
        parts.append(
            f"At M = inf its error on unseen tasks is {found['inf_over_ridge']:.2f}x ridge's "
            "(1.00 is Bayes-optimal)."
        )
    parts.append(f"Rule: {esc(found['rule'])}.")
    if cfg.seeds < 2 or cfg.trial.steps < 2000:
        parts.append("A small configuration (few seeds or steps): read this as a demo.")
    return " ".join(parts)


def _aggregate_table(summary: dict[str, Any]) -> Table:
    rows = summary["per_pool_size"]
    body = []
    for r in rows:
        if not r["seeds_done"]:
            body.append([r["pool_size"], f"0 ({r['seeds_failed']} failed)"] + ["-"] * 9)
            continue
        body.append(
            [
                r["pool_size"],
                f"{r['seeds_done']}" + (f" ({r['seeds_failed']} failed)" if r["seeds_failed"] else ""),
                f"{r['unseen_mse']:.3f} ({r['unseen_mse_min']:.3f}..{r['unseen_mse_max']:.3f})",
                f"{r['unseen_ridge_mse']:.3f}",
                f"{r['unseen_pool_bayes_mse']:.3f}",
                f"{r['pool_mse']:.3f}",
                f"{r['pool_ridge_mse']:.3f}",
                f"{r['pool_pool_bayes_mse']:.3f}",
                f"{r['unseen_dist_ridge']:.3f}",
                f"{r['unseen_dist_pool_bayes']:.3f}",
                f"{r['closer_to']} ({r['seeds_closer_to_ridge']}/{r['seeds_done']} seeds ridge-like)",
            ]
        )
    return Table(
        [
            "M",
            "seeds",
            "model, unseen",
            "ridge, unseen",
            "pool-Bayes, unseen",
            "model, pool",
            "ridge, pool",
            "pool-Bayes, pool",
            "model-ridge distance",
            "model-pool-Bayes distance",
            "model is",
        ],
        body,
        "Query MSE (geometric mean over seeds; the model's min..max over seeds); distances are the mean "
        "squared difference of predictions on unseen tasks.",
    )


def _positions(cfg: EmergenceIclConfig) -> dict[str, float]:
    """x positions: log2 M for finite pools, two steps right of the largest for inf."""
    finite = [m for m in cfg.pool_sizes if m is not None]
    top = math.log2(max(finite)) if finite else 0.0
    return {label(m): (math.log2(m) if m is not None else top + 2.0) for m in cfg.pool_sizes}


def _axis(ax: Any, cfg: EmergenceIclConfig) -> None:
    pos = _positions(cfg)
    ax.set_xticks(list(pos.values()), [k if k != "inf" else "∞" for k in pos])
    ax.set_xlabel("pretraining pool size M (log scale; ∞ = a fresh task per sequence)")


def _error_figure(
    rows: list[dict[str, Any]], trials: list[TrialRecord], cfg: EmergenceIclConfig
) -> EmbeddedFigure:
    pos = _positions(cfg)
    live = [r for r in rows if r["seeds_done"]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, where in zip(axes, ("unseen", "pool"), strict=True):
        xs = [pos[r["pool_size"]] for r in live]
        ax.plot(xs, [r[f"{where}_ridge_mse"] for r in live], "s--", color="#1f77b4", label="ridge")
        ax.plot(xs, [r[f"{where}_pool_bayes_mse"] for r in live], "^--", color="#ff7f0e", label="pool-Bayes")
        ax.plot(xs, [r[f"{where}_mse"] for r in live], "o-", color="#2ca02c", lw=2, label="model")
        dots = [(pos[label(t.params["pool_size"])], float(t.results[f"{where}_mse"])) for t in trials]
        if dots:
            ax.scatter(*zip(*dots, strict=True), s=14, color="#2ca02c", alpha=0.5)
        ax.set_yscale("log")
        ax.set_title("unseen tasks" if where == "unseen" else "tasks from the pool")
        _axis(ax, cfg)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("query MSE")
    axes[0].legend()
    return embed_figure(fig, "Query MSE of the model and of the two Bayes estimators against M.")


def _distance_figure(
    rows: list[dict[str, Any]], trials: list[TrialRecord], cfg: EmergenceIclConfig
) -> EmbeddedFigure:
    pos = _positions(cfg)
    live = [r for r in rows if r["seeds_done"]]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    xs = np.array([pos[r["pool_size"]] for r in live])
    ax.plot(xs, [r["unseen_dist_ridge"] for r in live], "s-", color="#1f77b4", label="to ridge")
    ax.plot(xs, [r["unseen_dist_pool_bayes"] for r in live], "^-", color="#ff7f0e", label="to pool-Bayes")
    ax.set_yscale("log")
    ax.set_ylabel("mean squared difference of predictions")
    _axis(ax, cfg)
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    return embed_figure(
        fig, "How far the model's predictions on unseen tasks are from each estimator's (the rule's input)."
    )


TRIAL_KEYS = (
    "unseen_mse",
    "unseen_ridge_mse",
    "unseen_pool_bayes_mse",
    "pool_mse",
    "pool_pool_bayes_mse",
    "unseen_dist_ridge",
    "unseen_dist_pool_bayes",
)


def _trials_table(trials: list[TrialRecord]) -> Table:
    rows = []
    for t in trials:
        r = t.results
        head = [t.trial_id, label(t.params["pool_size"]), t.seed, t.status]
        if t.status != "done":
            rows.append([*head, esc(t.error or "")[:120]])
            continue
        rows.append(
            [
                *head,
                *(f"{r[k]:.3f}" for k in TRIAL_KEYS),
                r["closer_to"],
                f"{r['final_train_loss']:.3f}",
                f"{t.wall_s:.0f}",
            ]
        )
    return Table(
        [
            "trial",
            "M",
            "seed",
            "status",
            "model, unseen",
            "ridge, unseen",
            "pool-Bayes, unseen",
            "model, pool",
            "pool-Bayes, pool",
            "to ridge",
            "to pool-Bayes",
            "model is",
            "last train loss",
            "wall s",
        ],
        rows,
        "One row per trial (each is a run folder in the sweep folder).",
    )


PARTS = ReportParts(
    title="emergence-icl: memorising the pool or learning in context",
    lead=(
        "Raventós et al. (2023): pretrained on a finite pool of regression tasks, a transformer first "
        "memorises the pool, then, past a threshold in the pool size M, learns to regress in context "
        "and generalises to unseen tasks. Where is the threshold at our small scale?"
    ),
    finding=_finding_text,
    aggregate_table=_aggregate_table,
    sections=_sections,
    setup=_setup,
    axis_plural="pool sizes",
    values=lambda cfg: list(cfg.pool_sizes),
    trials_table=_trials_table,
    command="mesalab run emergence-icl",
    presets=lambda: {"": EmergenceIclConfig(), "--quick": QUICK},
)
"""What this report adds to the emergence skeleton."""
