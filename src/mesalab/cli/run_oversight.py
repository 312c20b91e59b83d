"""`mesalab run oversight`: the deceptive-alignment toy, end to end."""

from __future__ import annotations

from pathlib import Path

import typer

from mesalab.cli.app import run_app
from mesalab.cli.progress import progress_option
from mesalab.cli.settings import flagship_command, set_option, threads_option


@run_app.command("oversight", cls=flagship_command("oversight"))
def run_oversight(
    quick: bool = typer.Option(False, "--quick", help="One seed per arm and a small budget (a smoke run)."),
    seeds: int | None = typer.Option(
        None,
        "--seeds",
        help="Training seeds per arm (default 3; 1 with --quick); shortcut for --set seeds=N.",
    ),
    sets: list[str] = set_option(),
    out: Path = typer.Option(Path("runs"), "--out", help="Folder that holds run folders."),
    resume: str | None = typer.Option(
        None, "--resume", help="Finish an interrupted run (its folder or name)."
    ),
    threads: int | None = threads_option(),
    device: str | None = typer.Option(
        None, "--device", help="cpu, cuda, cuda:1 (default: CUDA when present)."
    ),
    progress: bool = progress_option(),
) -> None:
    """Train with a half-present visible overseer (and a blind control), compare watched vs unwatched."""
    from mesalab.cli.settings import flagship_config
    from mesalab.errors import MesalabError
    from mesalab.experiments.oversight import OversightConfig, run
    from mesalab.runtime import configure, default_device
    from mesalab.store import find_run

    if resume is not None:
        if sets or seeds is not None:
            raise MesalabError("--resume: the run keeps the config it was started with; drop --set, --seeds")
        configure(threads)
        run_dir = run(
            OversightConfig(),
            out,
            resume=find_run(resume, out),
            device=default_device(device),
            progress=progress,
        )
    else:
        cfg = flagship_config("oversight", quick, sets, {"seeds": seeds})
        assert isinstance(cfg, OversightConfig)
        configure(threads)
        run_dir = run(cfg, out, device=default_device(device), progress=progress)
    typer.echo(f"run folder: {run_dir}")
    typer.echo(f"report:     {run_dir / 'report.html'}")
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
