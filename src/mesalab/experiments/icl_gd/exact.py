"""icl-gd's exact references: the best one-step GD predictor of each task, in closed form and
by Monte Carlo (`models.reference.gd_exact`; derivation in docs/icl-exact.md).

Loss convention: every figure here, like every query loss of icl-gd, is the MSE
`E (prediction - y_q)^2` (the in-context loss `L(w)` carries a factor 1/2, docs/icl-gd.md).
"""

from __future__ import annotations

from typing import Any

from mesalab.models.reference import gd_exact
from mesalab.report.html import Table

EXACT_NOTE = (
    "The best one-step GD predictor of each task in closed form, with a Monte-Carlo check "
    "(docs/icl-exact.md). Every loss in this report is the query MSE."
)
"""The report's paragraph above the table."""
EXACT_SEQUENCES = 100_000
"""Sequences of the Monte-Carlo estimate beside each closed-form one-step reference."""


def best_one_step(spec: Any, seed: int) -> dict[str, float]:
    """The best one-step GD query MSE and its step size for `spec`: closed form and a
    Monte-Carlo estimate over `EXACT_SEQUENCES` sequences (drawn in chunks), with standard errors."""
    exact = gd_exact.one_step_reference(spec)
    mc = gd_exact.monte_carlo_one_step(spec, EXACT_SEQUENCES, seed)
    eta, eta_se = mc.eta()
    mse, mse_se = mc.mse(eta)
    at_exact, at_exact_se = mc.mse(exact.eta)
    return {
        "eta_exact": exact.eta,
        "mse_exact": exact.loss,
        "eta_monte_carlo": eta,
        "eta_standard_error": eta_se,
        "mse_monte_carlo": mse,
        "mse_standard_error": mse_se,
        "mse_monte_carlo_at_exact_eta": at_exact,
        "mse_at_exact_eta_standard_error": at_exact_se,
        "sequences": EXACT_SEQUENCES,
    }


def exact_table(results: dict[str, Any]) -> Table:
    """Closed form beside Monte Carlo, per task (training task first)."""
    rows = []
    for row in results["shifts"]:
        b = row.get("best_one_step")
        if not b:
            continue
        z = (b["mse_monte_carlo_at_exact_eta"] - b["mse_exact"]) / max(
            b["mse_at_exact_eta_standard_error"], 1e-12
        )
        rows.append(
            [
                row["distribution"],
                f"{b['eta_exact']:.4f}",
                f"{b['eta_monte_carlo']:.4f} ± {b['eta_standard_error']:.4f}",
                f"{b['mse_exact']:.4f}",
                f"{b['mse_monte_carlo_at_exact_eta']:.4f} ± {b['mse_at_exact_eta_standard_error']:.4f}",
                f"{z:+.1f}",
            ]
        )
    return Table(
        [
            "distribution",
            "eta* (exact)",
            "eta (Monte Carlo ± s.e.)",
            "MSE* (exact)",
            "MSE at eta* (MC ± s.e.)",
            "z",
        ],
        rows,
        f"Best one-step GD: closed form (docs/icl-exact.md) and a Monte-Carlo estimate over "
        f"{EXACT_SEQUENCES:,} sequences per task with its standard error; z = (MC - exact) / s.e. "
        "All losses are query MSE.",
    )
