"""`mesalab run emergence-red-door` and `mesalab run emergence-icl`: when do mesa-optimizers arise?"""

from __future__ import annotations

from pathlib import Path

import typer

from mesalab.cli.app import run_app
from mesalab.cli.progress import progress_option
from mesalab.cli.settings import flagship_command, flagship_config, out_option, set_option

_QUICK = "A small demo configuration (minutes; not a finding)."
_SEEDS = "Seeds per grid point."
_WORKERS = "Trials run at once (each on --threads-per-trial torch threads)."
_THREADS = "Torch threads per trial."
_OUT = "Folder that holds sweep folders."
_ADDRESS = "Ray cluster to join (HOST:PORT or ray://HOST:PORT); default: a local cluster for this run."
_NAME = (
    "Sweep folder name; an existing one is resumed (finished trials kept). "
    "Re-running the same command without --name also resumes."
)


def _finish(sweep_dir: Path) -> None:
    from mesalab.store import read_json

    summary = read_json(sweep_dir / "emergence.json")
    typer.echo(f"sweep folder: {sweep_dir}")
    typer.echo(f"report:       {sweep_dir / 'report.html'}")
    typer.echo(f"aggregate:    {sweep_dir / 'emergence.json'} (trials: {sweep_dir / 'table.csv'})")
    typer.echo(f"finding:      {_finding_line(summary)}")


def _finding_line(summary: dict) -> str:
    found = summary["finding"]
    if summary["experiment"] == "emergence-red-door":
        narrow = found["narrowest"]
        b, v = narrow["behavioural"], narrow["verdict"]
        gone = found["behavioural"]
        if gone is None:
            verdict = "not shown gone within the grid (persists, or too few seeds)"
        elif gone == narrow["alt_fraction"]:
            verdict = "no majority of proxy-pursuing seeds at any fraction"
        else:
            verdict = f"gone from alt_fraction={gone:g} on"
        return (
            f"at alt_fraction={narrow['alt_fraction']:g}: pseudo-aligned {b['rate']:.0%} "
            f"[{b['low']:.0%}, {b['high']:.0%}] (behavioural), {v['rate']:.0%} "
            f"[{v['low']:.0%}, {v['high']:.0%}] (verdict); behavioural proxy {verdict}"
        )
    threshold = found["threshold"]
    return (
        f"switches from memorising to in-context regression at M={threshold}"
        if threshold is not None
        else "no switch to in-context regression within the grid"
    )


@run_app.command("emergence-red-door", cls=flagship_command("emergence-red-door"))
def run_emergence_red_door(
    quick: bool = typer.Option(False, "--quick", help=_QUICK),
    seeds: int | None = typer.Option(
        None, "--seeds", help=_SEEDS + " Default 8 (2 with --quick); shortcut for --set seeds=N."
    ),
    arch: str | None = typer.Option(
        None, "--arch", help="Policy torso: planner, mlp, cost-planner or recurrent; --set trial.arch=NAME."
    ),
    sets: list[str] = set_option(),
    workers: int = typer.Option(2, "--workers", help=_WORKERS),
    threads: int = typer.Option(1, "--threads-per-trial", help=_THREADS),
    out: Path = out_option(_OUT),
    address: str | None = typer.Option(None, "--address", help=_ADDRESS),
    name: str | None = typer.Option(None, "--name", help=_NAME),
    progress: bool = progress_option(),
) -> None:
    """Pseudo-alignment on red-door/deploy against training diversity, over seeds; writes report.html."""
    from mesalab.experiments.emergence_red_door import EmergenceRedDoorConfig, run

    cfg = flagship_config("emergence-red-door", quick, sets, {"seeds": seeds, "trial.arch": arch})
    assert isinstance(cfg, EmergenceRedDoorConfig)
    _finish(run(cfg, out, workers, address, name, threads, progress))


@run_app.command("emergence-icl", cls=flagship_command("emergence-icl"))
def run_emergence_icl(
    quick: bool = typer.Option(False, "--quick", help=_QUICK),
    seeds: int | None = typer.Option(
        None, "--seeds", help=_SEEDS + " Default 2 (1 with --quick); shortcut for --set seeds=N."
    ),
    sets: list[str] = set_option(),
    workers: int = typer.Option(2, "--workers", help=_WORKERS),
    threads: int = typer.Option(1, "--threads-per-trial", help=_THREADS),
    out: Path = out_option(_OUT),
    address: str | None = typer.Option(None, "--address", help=_ADDRESS),
    name: str | None = typer.Option(None, "--name", help=_NAME),
    progress: bool = progress_option(),
) -> None:
    """In-context regression against pretraining task diversity: memorising vs ridge; writes report.html."""
    from mesalab.experiments.emergence_icl import EmergenceIclConfig, run

    cfg = flagship_config("emergence-icl", quick, sets, {"seeds": seeds})
    assert isinstance(cfg, EmergenceIclConfig)
    _finish(run(cfg, out, workers, address, name, threads, progress))
