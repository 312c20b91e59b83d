"""`mesalab run oversight`: the deceptive-alignment toy, end to end."""

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


@run_app.command("oversight", cls=flagship_command("oversight"))
def run_oversight(
    quick: bool = typer.Option(False, "--quick", help="One seed per arm and a small budget (a smoke run)."),
    seeds: int | None = typer.Option(
        None,
        "--seeds",
        help="Training seeds per arm (default 3; 1 with --quick); shortcut for --set seeds=N.",
    ),
    sets: list[str] = set_option(),
    out: Path = out_option(),
    resume: str | None = resume_option(),
    threads: int | None = threads_option(),
    device: str | None = device_option(),
    progress: bool = progress_option(),
) -> None:
    """Train with a half-present visible overseer (and a blind control), compare watched vs unwatched."""
    from mesalab.cli.settings import run_flagship
    from mesalab.experiments.oversight import run

    run_dir = run_flagship(
        "oversight", run, quick=quick, sets=sets, shortcuts={"seeds": seeds}, out=out,
        resume=resume, threads=threads, device=device, progress=progress,
    )  # fmt: skip
    _print_summary(run_dir)


def _print_summary(run_dir: Path) -> None:
    from mesalab.store import read_json

    summary = read_json(run_dir / "results.json")["summary"]
    for arm, entry in summary.items():
        f = entry["finding"]
        gap = f["oversight_gap"]
        typer.echo(
            f"{arm:8s} {f['finding']:26s} restricted watched {f['restricted_watched']['rate']:.3f} "
            f"unwatched {f['restricted_unwatched']['rate']:.3f}  gap {gap['rate']:+.3f} "
            f"[{gap['low']:+.3f}, {gap['high']:+.3f}]"
        )
        for name, d in entry["distributions"].items():
            typer.echo(
                f"    {name:28s} exit {d['exit']['rate']:.3f}  base {d['base_objective']['rate']:.3f}  "
                f"purpose {d['purpose']['rate']:.3f}  restricted {d['restricted']['rate']:.3f}"
            )
