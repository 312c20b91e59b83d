"""What both emergence experiments do around their sweep: resume, run, aggregate, report.

An emergence experiment sweeps one field of its trial (`Variant.axis`: the training
diversity, the pool size) over seeds, aggregates the trials per value and writes
`emergence.json` and `report.html`. A `Variant` holds what differs; the rest is here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from mesalab.config import Config
from mesalab.store import read_json, write_json_atomic
from mesalab.sweep import SweepResult, TrialRecord, get_sweep_experiment, run_sweep

CONFIG_FILE = "emergence.json"
"""The experiment config and its aggregate, beside the sweep's own `sweep.json`."""

C = TypeVar("C", bound=Config)


@dataclass(frozen=True)
class Variant(Generic[C]):
    """What one emergence experiment adds to the skeleton."""

    experiment: str
    """Experiment name, e.g. `emergence-red-door`."""
    trial_name: str
    """The registered sweep trial run at each (value, seed)."""
    axis: str
    """The trial field swept, e.g. `alt_fraction`."""
    values: Callable[[C], list[Any]]
    """The swept values of a config."""
    aggregate: Callable[[list[TrialRecord], C], dict[str, Any]]
    """Trials -> the summary written into `emergence.json` (and read by the report)."""
    report: Callable[[SweepResult, C, dict[str, Any]], Any]
    """Writes `report.html` (usually `emergence.report.write_report` with the variant's parts)."""


def run_emergence(
    variant: Variant[C],
    cfg: C,
    out_root: Path,
    workers: int,
    address: str | None,
    name: str | None,
    threads_per_trial: int,
    progress: bool,
) -> Path:
    """Run (or resume) the sweep of the variant's trial over its axis x `cfg.seeds`,
    aggregate it, write `emergence.json` and `report.html`. A resumed sweep (`name` of an
    existing one) keeps the config it was started with. `cfg` has `seeds` and `trial` fields."""
    if name is not None and (out_root / name / CONFIG_FILE).exists():
        cfg = type(cfg).from_dict(read_json(out_root / name / CONFIG_FILE)["config"])
    sweep = dataclasses.replace(get_sweep_experiment(variant.trial_name), config=cfg.trial)  # type: ignore[attr-defined]
    result = run_sweep(
        sweep,
        {variant.axis: variant.values(cfg)},
        seeds=cfg.seeds,  # type: ignore[attr-defined]
        out_root=out_root,
        workers=workers,
        address=address,
        name=name,
        threads_per_trial=threads_per_trial,
        progress=progress,
    )
    summary = variant.aggregate(result.trials, cfg)
    write_json_atomic(
        result.sweep_dir / CONFIG_FILE,
        {
            "experiment": variant.experiment,
            "config": cfg.to_dict(),
            **summary,
            "wall_s_this_call": result.wall_s,
            "trials_run_this_call": result.ran,
        },
    )
    variant.report(result, cfg, summary)
    return result.sweep_dir


def load(sweep_dir: Path) -> SweepResult:
    """A finished emergence sweep read back from its folder (for reports and tests)."""
    from mesalab.sweep.run import load_trial

    spec = read_json(sweep_dir / "sweep.json")
    return SweepResult(sweep_dir, spec["experiment"], [load_trial(sweep_dir / t) for t in spec["trials"]])


def spread(values: list[float]) -> dict[str, float | None]:
    """Mean, min and max (all None for no values)."""
    if not values:
        return {"mean": None, "min": None, "max": None}
    return {"mean": sum(values) / len(values), "min": min(values), "max": max(values)}
