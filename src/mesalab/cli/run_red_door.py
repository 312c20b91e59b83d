"""`mesalab run red-door`: the seed's maze experiment, end to end."""

from __future__ import annotations

from pathlib import Path

import typer

from mesalab.cli.app import run_app


@run_app.command("red-door")
def run_red_door(
    quick: bool = typer.Option(
        False, "--quick", help="One seed per arm and a small budget (about a minute)."
    ),
    seeds: int | None = typer.Option(
        None, "--seeds", help="Training seeds per arm (default 3; 1 with --quick)."
    ),
    obs: str = typer.Option("symbolic", "--obs", help="Observation mode: symbolic or pixels."),
    arch: str = typer.Option("planner", "--arch", help="Policy torso: planner or mlp."),
    steps: int | None = typer.Option(None, "--steps", help="PPO environment steps per policy."),
    episodes: int | None = typer.Option(None, "--episodes", help="Assessment episodes per distribution."),
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
    """Train narrow and diverse arms with PPO, shift them, infer their objectives, write report.html."""
    from mesalab.experiments.red_door import QUICK, RedDoorConfig, run
    from mesalab.runtime import configure, default_device
    from mesalab.store import find_run

    configure(threads)
    resolved = default_device(device)
    if resume is not None:
        run_dir = run(RedDoorConfig(), out, resume=find_run(resume, out), device=resolved)
    else:
        cfg = QUICK if quick else RedDoorConfig()
        changes: dict[str, object] = {"obs_mode": obs, "arch": arch}
        if seeds is not None:
            changes["seeds"] = seeds
        if episodes is not None:
            changes["eval_episodes"] = episodes
        if steps is not None:
            changes["ppo"] = cfg.ppo.replace(total_steps=steps)
        cfg = cfg.replace(**changes)
        run_dir = run(cfg, out, device=resolved)
    typer.echo(f"run folder: {run_dir}")
    typer.echo(f"report:     {run_dir / 'report.html'}")
    from mesalab.cli.runs import print_results

    print_results(run_dir)
