"""`mesalab run icl-gd`: train LSA and softmax transformers on in-context regression, compare with GD."""

from __future__ import annotations

from pathlib import Path

import typer

from mesalab.cli.app import run_app
from mesalab.config import check_choice
from mesalab.envs.icl.spec import X_DISTS


@run_app.command("icl-gd")
def icl_gd(
    quick: bool = typer.Option(False, "--quick", help="Short training (under a minute on 2 cores)."),
    seed: int = typer.Option(0, "--seed", help="Root seed of every batch and initialisation."),
    out: Path = typer.Option(Path("runs"), "--out", help="Root folder; the run gets a new folder inside."),
    threads: int = typer.Option(
        1,
        "--threads",
        help="torch intra-op threads. Default 1: the models are tiny, and with a second busy process on "
        "a 2-core machine 2 threads ran 10x slower than 1.",
    ),
    device: str | None = typer.Option(
        None, "--device", help="cpu, cuda or cuda:N (default: CUDA when present)."
    ),
    steps: int | None = typer.Option(
        None, "--steps", help="Train every model for this many steps (smoke tests)."
    ),
    dim: int | None = typer.Option(None, "--dim", help="Input dimension d of the training task."),
    n_context: int | None = typer.Option(None, "--n-context", help="Context pairs N of the training task."),
    x_dist: str | None = typer.Option(None, "--x-dist", help=f"Input distribution: {', '.join(X_DISTS)}."),
    x_scale: float | None = typer.Option(None, "--x-scale", help="Input scale of the training task."),
    w_scale: float | None = typer.Option(None, "--w-scale", help="Weight scale of the training task."),
    noise: float | None = typer.Option(None, "--noise", help="Target noise of the training task."),
    pool_size: int | None = typer.Option(
        None, "--pool-size", help="Finite pool of M training tasks (default: none)."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Does a transformer trained on in-context regression learn gradient descent? Ends in report.html."""
    from mesalab import runtime
    from mesalab.experiments.icl_gd import QUICK, IclGdConfig, run, with_steps

    runtime.configure(threads)
    cfg = QUICK if quick else IclGdConfig()
    overrides = {
        "dim": dim,
        "n_context": n_context,
        "x_dist": x_dist,
        "x_scale": x_scale,
        "w_scale": w_scale,
        "noise": noise,
        "pool_size": pool_size,
    }
    if x_dist is not None:
        check_choice(x_dist, "x_dist", X_DISTS)
    changes = {k: v for k, v in overrides.items() if v is not None}
    if changes:
        cfg = cfg.replace(task=cfg.task.replace(**changes))
    if steps is not None:
        cfg = with_steps(cfg, steps)
    total = cfg.lsa1_steps + cfg.lsa3_steps + cfg.softmax_steps
    if not progress:
        run_dir = run(cfg, out, device)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task("training", total=total)

            def advance(name: str, n: int) -> None:
                bar.update(task, advance=n, description=f"training {name}")

            run_dir = run(cfg, out, device, advance)
    typer.echo(f"run folder: {run_dir}")
    typer.echo(f"report: {run_dir / 'report.html'}")
