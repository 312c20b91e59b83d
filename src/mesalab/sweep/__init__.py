"""Sweeps, the results index and meta-optimization, scheduled on Ray.

`run_sweep` runs a grid of trials of a registered `SweepExperiment` (one run folder per
trial, resumable); `mesalab.sweep.index` rebuilds the results table from run folders;
`mesalab.sweep.tune` searches base-optimizer hyperparameters with Optuna;
`mesalab.sweep.break_shift` searches a world's deployment distribution for the shift that
most lowers a model's base-objective success.
"""

from mesalab.sweep import builtin as builtin  # registers the `tiny` trial
from mesalab.sweep.experiment import (
    SweepExperiment,
    get_sweep_experiment,
    register_sweep_experiment,
    sweep_experiment_names,
)
from mesalab.sweep.records import SweepResult, TrialRecord
from mesalab.sweep.run import run_sweep

__all__ = [
    "SweepExperiment",
    "SweepResult",
    "TrialRecord",
    "get_sweep_experiment",
    "register_sweep_experiment",
    "run_sweep",
    "sweep_experiment_names",
]
