"""`mesalab sweep EXPERIMENT --axis key=v1,v2 --seeds N`: a grid of trials on Ray."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer

from mesalab.cli.app import app
from mesalab.cli.progress import progress_option, quiet_option
from mesalab.cli.settings import out_option, set_option, sweep_command


@app.command("sweep", cls=sweep_command())
def sweep(
    experiment: str = typer.Argument(
        ..., help="Sweep experiment: tiny, red-door-arm, ... (`sweep NAME --help` lists its fields)."
    ),
    axis: list[str] = typer.Option(
        [], "--axis", help="KEY=V1,V2,... (dotted keys for nested fields); repeat for a grid."
    ),
    sets: list[str] = set_option(),
    seeds: int = typer.Option(1, "--seeds", help="Seeds per grid point."),
    seed: int = typer.Option(0, "--seed", help="Base seed every trial seed derives from."),
    workers: int = typer.Option(2, "--workers", help="Most trials running at once."),
    address: str | None = typer.Option(
        None, "--address", help="Join a Ray cluster (HOST:PORT or ray://HOST:PORT); default: start one here."
    ),
    name: str | None = typer.Option(
        None, "--name", help="Sweep folder name; an existing sweep folder is resumed."
    ),
    out: Path = out_option("Folder that holds run and sweep folders."),
    threads: int = typer.Option(1, "--threads", help="Torch threads (and Ray CPUs) per trial."),
    progress: bool = progress_option(),
    quiet: bool = quiet_option(),
) -> None:
    """Run every trial of the grid (resuming a sweep with the same spec), write table and report.

    --set fixes a field of every trial (the sweep's base config); --axis varies one.
    """
    import mesalab.experiments  # noqa: F401  the flagships register their sweep trials
    from mesalab.cli.app import check_grid
    from mesalab.errors import MesalabError
    from mesalab.overrides import apply_sets
    from mesalab.sweep.experiment import get_sweep_experiment, parse_axis
    from mesalab.sweep.run import run_sweep

    exp = get_sweep_experiment(experiment)
    if sets:
        exp = dataclasses.replace(exp, config=apply_sets(exp.config, sets))
    axes: dict[str, list[str]] = {}
    for text in axis:
        key, values = parse_axis(text)
        if key in axes:
            raise MesalabError(f"--axis {key!r} given twice; list all its values in one --axis")
        axes[key] = values
    check_grid(axes, seeds)
    result = run_sweep(
        exp,
        axes,  # type: ignore[arg-type]
        seeds,
        out_root=out,
        workers=workers,
        address=address,
        name=name,
        base_seed=seed,
        threads_per_trial=threads,
        progress=progress and not quiet,
    )
    done = sum(t.status == "done" for t in result.trials)
    failed = [t for t in result.trials if t.status == "failed"]
    kept = len(result.trials) - result.ran
    typer.echo(f"sweep folder: {result.sweep_dir}")
    typer.echo(f"report:       {result.sweep_dir / 'report.html'}")
    typer.echo(f"table:        {result.sweep_dir / 'table.csv'} (and table.parquet)")
    typer.echo(
        f"trials: {done} done, {len(failed)} failed, of {len(result.trials)} "
        f"({result.ran} run now, {kept} kept from before)"
    )
    if result.ran:
        typer.echo(f"wall {result.wall_s:.1f} s, of which Ray start {result.ray_start_s:.1f} s")
    for trial in failed:
        typer.echo(f"failed: {trial.trial_id}: {trial.error}")
