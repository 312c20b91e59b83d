"""`mesalab tune EXPERIMENT --trials N`: Optuna over base-optimizer hyperparameters, trials on Ray."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer

from mesalab.cli.app import app
from mesalab.cli.progress import progress_option, quiet_option
from mesalab.cli.settings import out_option, set_option, sweep_command


@app.command("tune", cls=sweep_command())
def tune(
    experiment: str = typer.Argument(
        ...,
        help="Sweep experiment with a search space: tiny, red-door-arm "
        "(`tune NAME --help` lists its fields).",
    ),
    trials: int = typer.Option(20, "--trials", help="Total trials the study should hold (resumes count)."),
    storage: str | None = typer.Option(
        None, "--storage", help="Optuna database URL to share a study (default: study.db in the folder)."
    ),
    study: str | None = typer.Option(None, "--study", help="Study name (default: experiment + spec hash)."),
    sets: list[str] = set_option(),
    seed: int = typer.Option(0, "--seed", help="Seed of the sampler and of every trial."),
    workers: int = typer.Option(2, "--workers", help="Most trials running at once."),
    address: str | None = typer.Option(None, "--address", help="Join a Ray cluster (HOST:PORT)."),
    name: str | None = typer.Option(None, "--name", help="Tune folder name; an existing one is resumed."),
    out: Path = out_option(),
    threads: int = typer.Option(1, "--threads", help="Torch threads (and Ray CPUs) per trial."),
    progress: bool = progress_option(),
    quiet: bool = quiet_option(),
) -> None:
    """Search the experiment's declared hyperparameters with Optuna (TPE); resumable.

    --set fixes a field of every trial; the fields Optuna varies are set per trial on top.
    """
    import mesalab.experiments  # noqa: F401  the flagships register their sweep trials
    from mesalab.overrides import apply_sets
    from mesalab.sweep.experiment import get_sweep_experiment
    from mesalab.sweep.tune import tune as run_tune

    exp = get_sweep_experiment(experiment)
    if sets:
        exp = dataclasses.replace(exp, config=apply_sets(exp.config, sets))
    result = run_tune(
        exp,
        trials,
        out_root=out,
        name=name,
        storage=storage,
        study_name=study,
        workers=workers,
        address=address,
        base_seed=seed,
        threads_per_trial=threads,
        progress=progress and not quiet,
    )
    states = [t["state"] for t in result.trials]
    typer.echo(f"tune folder: {result.tune_dir}")
    typer.echo(f"study:       {result.study_name} in {result.storage}")
    typer.echo(
        f"trials: {states.count('complete')} complete, {states.count('fail')} failed ({result.ran} run now)"
    )
    if result.best_value is None:
        typer.echo("no trial completed")
        return
    params = ", ".join(f"{k}={v}" for k, v in (result.best_params or {}).items())
    typer.echo(f"best {result.objective} ({result.direction}): {result.best_value:.4g} with {params}")
