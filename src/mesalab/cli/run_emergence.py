"""`mesalab run emergence-red-door` and `mesalab run emergence-icl`: when do mesa-optimizers arise?"""

from __future__ import annotations

from pathlib import Path

import typer

from mesalab.cli.app import run_app
from mesalab.errors import MesalabError

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


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise MesalabError(
            f"--fractions {text!r}: expected numbers separated by commas, e.g. 0,0.05,1"
        ) from None


def _pools(text: str) -> tuple[int | None, ...]:
    out: list[int | None] = []
    for v in text.split(","):
        v = v.strip().lower()
        if v in ("inf", "none", "infinite"):
            out.append(None)
            continue
        try:
            out.append(int(v))
        except ValueError:
            raise MesalabError(
                f"--pool-sizes {text!r}: expected integers or inf, e.g. 1,16,256,inf"
            ) from None
    return tuple(out)


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


@run_app.command("emergence-red-door")
def run_emergence_red_door(
    quick: bool = typer.Option(False, "--quick", help=_QUICK),
    seeds: int | None = typer.Option(None, "--seeds", help=_SEEDS + " Default 8 (2 with --quick)."),
    fractions: str | None = typer.Option(
        None, "--fractions", help="alt_fraction values, comma-separated (default 0,0.01,0.05,0.2,1)."
    ),
    steps: int | None = typer.Option(None, "--steps", help="PPO environment steps per trial."),
    episodes: int | None = typer.Option(None, "--episodes", help="Assessment episodes per distribution."),
    workers: int = typer.Option(2, "--workers", help=_WORKERS),
    threads: int = typer.Option(1, "--threads-per-trial", help=_THREADS),
    out: Path = typer.Option(Path("runs"), "--out", help=_OUT),
    address: str | None = typer.Option(None, "--address", help=_ADDRESS),
    name: str | None = typer.Option(None, "--name", help=_NAME),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the sweep's progress bar."),
) -> None:
    """Pseudo-alignment on red-door/deploy against training diversity, over seeds; writes report.html."""
    from mesalab.experiments.emergence_red_door import QUICK, EmergenceRedDoorConfig, run

    cfg = QUICK if quick else EmergenceRedDoorConfig()
    trial = cfg.trial
    if steps is not None:
        trial = trial.replace(ppo=trial.ppo.replace(total_steps=steps))
    if episodes is not None:
        trial = trial.replace(eval_episodes=episodes)
    changes: dict[str, object] = {"trial": trial}
    if seeds is not None:
        changes["seeds"] = seeds
    if fractions is not None:
        changes["fractions"] = _floats(fractions)
    cfg = cfg.replace(**changes)
    _finish(run(cfg, out, workers, address, name, threads, progress))


@run_app.command("emergence-icl")
def run_emergence_icl(
    quick: bool = typer.Option(False, "--quick", help=_QUICK),
    seeds: int | None = typer.Option(None, "--seeds", help=_SEEDS + " Default 2 (1 with --quick)."),
    pool_sizes: str | None = typer.Option(
        None,
        "--pool-sizes",
        help="Pool sizes M, comma-separated; inf: a fresh task per sequence (default 1,4,16,64,256,1024,inf)",
    ),
    steps: int | None = typer.Option(None, "--steps", help="Training steps per model."),
    workers: int = typer.Option(2, "--workers", help=_WORKERS),
    threads: int = typer.Option(1, "--threads-per-trial", help=_THREADS),
    out: Path = typer.Option(Path("runs"), "--out", help=_OUT),
    address: str | None = typer.Option(None, "--address", help=_ADDRESS),
    name: str | None = typer.Option(None, "--name", help=_NAME),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the sweep's progress bar."),
) -> None:
    """In-context regression against pretraining task diversity: memorising vs ridge; writes report.html."""
    from mesalab.experiments.emergence_icl import QUICK, EmergenceIclConfig, run

    cfg = QUICK if quick else EmergenceIclConfig()
    changes: dict[str, object] = {}
    if steps is not None:
        every = max(1, min(cfg.trial.eval_every, steps))
        changes["trial"] = cfg.trial.replace(steps=steps, eval_every=every)
    if seeds is not None:
        changes["seeds"] = seeds
    if pool_sizes is not None:
        changes["pool_sizes"] = _pools(pool_sizes)
    cfg = cfg.replace(**changes)
    _finish(run(cfg, out, workers, address, name, threads, progress))
