"""What both emergence experiments do around their sweep: resume, run, aggregate, report."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from mesalab.config import Config
from mesalab.store import read_json, write_json_atomic
from mesalab.sweep import SweepResult, TrialRecord, get_sweep_experiment, run_sweep

CONFIG_FILE = "emergence.json"
"""The experiment config and its aggregate, beside the sweep's own `sweep.json`."""

C = TypeVar("C", bound=Config)


def run_emergence(
    experiment: str,
    cfg: C,
    trial_name: str,
    axis: str,
    values: Callable[[C], list[Any]],
    aggregate: Callable[[list[TrialRecord], C], dict[str, Any]],
    write_report: Callable[[SweepResult, C, dict[str, Any]], Any],
    out_root: Path,
    workers: int,
    address: str | None,
    name: str | None,
    threads_per_trial: int,
    progress: bool,
) -> Path:
    """Run (or resume) the sweep of `trial_name` over `axis` (its `values(cfg)`) x `cfg.seeds`,
    aggregate it, write `emergence.json` and `report.html`. A resumed sweep (`name` of an
    existing one) keeps the config it was started with. `cfg` has `seeds` and `trial` fields."""
    if name is not None and (out_root / name / CONFIG_FILE).exists():
        cfg = type(cfg).from_dict(read_json(out_root / name / CONFIG_FILE)["config"])
    sweep = dataclasses.replace(get_sweep_experiment(trial_name), config=cfg.trial)  # type: ignore[attr-defined]
    result = run_sweep(
        sweep,
        {axis: values(cfg)},
        seeds=cfg.seeds,  # type: ignore[attr-defined]
        out_root=out_root,
        workers=workers,
        address=address,
        name=name,
        threads_per_trial=threads_per_trial,
        progress=progress,
    )
    summary = aggregate(result.trials, cfg)
    write_json_atomic(
        result.sweep_dir / CONFIG_FILE,
        {
            "experiment": experiment,
            "config": cfg.to_dict(),
            **summary,
            "wall_s_this_call": result.wall_s,
            "trials_run_this_call": result.ran,
        },
    )
    write_report(result, cfg, summary)
    return result.sweep_dir
