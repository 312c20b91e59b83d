"""`mesalab run red-door`: the seed's maze experiment, end to end."""

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


@run_app.command("red-door", cls=flagship_command("red-door"))
def run_red_door(
    quick: bool = typer.Option(
        False, "--quick", help="One seed per arm and a small budget (about a minute)."
    ),
    seeds: int | None = typer.Option(
        None,
        "--seeds",
        help="Training seeds per arm (default 3; 1 with --quick); shortcut for --set seeds=N.",
    ),
    arch: str | None = typer.Option(
        None,
        "--arch",
        help="Policy torso: planner, mlp, cost-planner or recurrent; shortcut for --set arch=NAME.",
    ),
    sets: list[str] = set_option(),
    out: Path = out_option(),
    resume: str | None = resume_option(),
    threads: int | None = threads_option(),
    device: str | None = device_option(),
    progress: bool = progress_option(),
) -> None:
    """Train narrow and diverse arms with PPO, shift them, infer their objectives, write report.html."""
    from mesalab.cli.settings import run_flagship
    from mesalab.experiments.red_door import run

    run_dir = run_flagship(
        "red-door", run, quick=quick, sets=sets, shortcuts={"seeds": seeds, "arch": arch}, out=out,
        resume=resume, threads=threads, device=device, progress=progress,
    )  # fmt: skip
    from mesalab.cli.runs import print_results

    print_results(run_dir)
