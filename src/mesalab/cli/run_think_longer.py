"""`mesalab run think-longer`: a generic recurrent net learns mazes, runs longer, is probed and shifted."""

from __future__ import annotations

from pathlib import Path

import typer

from mesalab.cli.app import run_app


def _ints(text: str | None, option: str) -> tuple[int, ...] | None:
    from mesalab.errors import ConfigError

    if text is None:
        return None
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(option, f"expected comma-separated integers, got {text!r}", "11,21,31") from None


def _floats(text: str | None, option: str) -> tuple[float, ...] | None:
    from mesalab.errors import ConfigError

    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(option, f"expected comma-separated numbers, got {text!r}", "1,2,4") from None


def default_episodes(size: int) -> int:
    """Held-out mazes for an evaluation size given on the command line (fewer for big mazes)."""
    for limit, episodes in ((21, 200), (31, 100), (41, 60), (63, 40)):
        if size <= limit:
            return episodes
    return 8


@run_app.command("think-longer")
def run_think_longer(
    quick: bool = typer.Option(
        False, "--quick", help="A small net, a short training, a small grid (about a minute)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of weights, data, evaluation and assessments."),
    steps: int | None = typer.Option(None, "--steps", help="Training steps of the main net."),
    sizes: str | None = typer.Option(None, "--sizes", help="Evaluation maze sides, e.g. 11,21,31,63."),
    per_side: str | None = typer.Option(
        None, "--per-side", help="T grid as multiples of the side, e.g. 1,2,4."
    ),
    out: Path = typer.Option(Path("runs"), "--out", help="Folder that holds run folders."),
    resume: str | None = typer.Option(
        None, "--resume", help="Finish an interrupted run (its folder or name)."
    ),
    threads: int | None = typer.Option(
        None, "--threads", help="Torch threads (default MESALAB_THREADS or 2)."
    ),
    device: str | None = typer.Option(
        None, "--device", help="cpu, cuda, cuda:1 (default: CUDA when present)."
    ),
) -> None:
    """Train on small mazes, run longer on big ones, probe for a wavefront, shift it; write report.html."""
    from mesalab.experiments.think_longer.config import QUICK, ThinkLongerConfig
    from mesalab.experiments.think_longer.run import run
    from mesalab.runtime import configure, default_device
    from mesalab.store import find_run

    configure(threads)
    resolved = default_device(device)
    if resume is not None:
        run_dir = run(ThinkLongerConfig(), out, resume=find_run(resume, out), device=resolved)
    else:
        cfg = (QUICK if quick else ThinkLongerConfig()).replace(seed=seed)
        if steps is not None:
            cfg = cfg.replace(train=cfg.train.replace(steps=steps))
        chosen = _ints(sizes, "sizes")
        if chosen is not None:
            cfg = cfg.replace(eval_sizes=chosen, eval_episodes=tuple(default_episodes(s) for s in chosen))
        factors = _floats(per_side, "per_side")
        if factors is not None:
            cfg = cfg.replace(per_side=factors)
        run_dir = run(cfg, out, device=resolved)
    typer.echo(f"run folder: {run_dir}")
    typer.echo(f"report:     {run_dir / 'report.html'}")
    from mesalab.store import read_json

    for name, entry in read_json(run_dir / "results.json")["targets"].items():
        typer.echo(
            f"{name}: {entry['value']:.3f} (wanted {entry['target']}) {'met' if entry['met'] else 'missed'}"
        )
