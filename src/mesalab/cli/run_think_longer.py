"""`mesalab run think-longer`: a generic recurrent net learns mazes, runs longer, is probed and shifted."""

from __future__ import annotations

from pathlib import Path

import typer

from mesalab.cli.app import run_app
from mesalab.cli.progress import progress_option
from mesalab.cli.settings import (
    device_option,
    flagship_command,
    out_option,
    resume_option,
    set_option,
    threads_option,
)


@run_app.command("think-longer", cls=flagship_command("think-longer"))
def run_think_longer(
    quick: bool = typer.Option(
        False, "--quick", help="A small net, a short training, a small grid (about a minute)."
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Seed of weights, data, evaluation and assessments; shortcut for --set seed=N."
    ),
    sets: list[str] = set_option(),
    out: Path = out_option(),
    resume: str | None = resume_option(),
    threads: int | None = threads_option(),
    device: str | None = device_option(),
    progress: bool = progress_option(),
) -> None:
    """Train on small mazes, run longer on big ones, probe for a wavefront, shift it; write report.html.

    E.g. `--set train.steps=3000 --set eval_grid=[[11,200],[31,100],[63,40]]
    --set per_side=[1,2,4]`.
    """
    from mesalab.cli.settings import run_flagship
    from mesalab.experiments.think_longer.run import run

    run_dir = run_flagship(
        "think-longer", run, quick=quick, sets=sets, shortcuts={"seed": seed}, out=out,
        resume=resume, threads=threads, device=device, progress=progress,
    )  # fmt: skip
    from mesalab.store import read_json

    for name, entry in read_json(run_dir / "results.json")["targets"].items():
        typer.echo(
            f"{name}: {entry['value']:.3f} (wanted {entry['target']}) {'met' if entry['met'] else 'missed'}"
        )
