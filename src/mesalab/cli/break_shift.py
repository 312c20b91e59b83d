"""`mesalab break MODEL --world NAME`: the deployment shift that most lowers a model's success."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from mesalab.cli.app import app
from mesalab.cli.progress import progress_option, quiet_option
from mesalab.cli.settings import out_option, threads_option
from mesalab.store.runs import finite


@app.command("break")
def break_model(
    model: str = typer.Argument(
        ..., help="A saved policy (NAME.safetensors), or scripted:OBJECTIVE (e.g. scripted:red)."
    ),
    world: str | None = typer.Option(
        None, "--world", help="Base distribution (default: the model's training one, else red-door/train)."
    ),
    episodes: int = typer.Option(100, "--episodes", help="Episodes per scored shift."),
    trials: int = typer.Option(64, "--trials", help="Budget: exhaustive when the space fits, else Optuna."),
    method: str = typer.Option("auto", "--method", help="auto, grid or optuna."),
    max_objects: int = typer.Option(3, "--max-objects", help="Most objects a shift may place."),
    sizes: str = typer.Option("", "--sizes", help="Maze sizes to try, e.g. 9,11,13 (scripted policies)."),
    seed: int = typer.Option(0, "--seed", help="Seed of rollouts and sampler."),
    layout_seed: int = typer.Option(1000, "--layout-seed", help="Layout bank of the scored mazes."),
    out: Path = out_option(),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    threads: int | None = threads_option(),
    progress: bool = progress_option(),
    quiet: bool = quiet_option(),
) -> None:
    """Search exit colour, object colour and count (and size) for the worst shift; give its verdict."""
    from mesalab.cli.paths import check_writable_dir
    from mesalab.errors import MesalabError
    from mesalab.runtime import configure
    from mesalab.store import create_run_dir, write_json_atomic
    from mesalab.sweep.break_shift import (
        BreakConfig,
        load_policy,
        search_worst_shift,
        write_break_report,
    )

    configure(threads)
    items = [s.strip() for s in sizes.split(",")] if sizes.strip() else []
    if not all(s.isdigit() for s in items):
        raise MesalabError(f"--sizes {sizes!r}: expected odd integers such as 9,11,13")
    size_list = tuple(int(s) for s in items)
    check_writable_dir(out, "--out")
    policy, obs_mode, model_size = load_policy(model)
    if world is None:
        world = "red-door/train"
        if not model.startswith("scripted:"):
            from mesalab.models.io import read_model_meta

            world = str(read_model_meta(model).get("trained_on", world))
    cfg = BreakConfig(
        world=world,
        episodes=episodes,
        seed=seed,
        layout_seed=layout_seed,
        max_objects=max_objects,
        sizes=size_list,
        trials=trials,
        method=method,
    )
    result = search_worst_shift(policy, cfg, obs_mode, model_size, progress=progress and not quiet)
    result["policy"] = model
    run_dir = create_run_dir("break", cfg, out)
    write_break_report(run_dir, result)
    write_json_atomic(run_dir / "results.json", result)  # last: marks the run finished
    if as_json:
        typer.echo(json.dumps(finite(result), indent=2, allow_nan=False))
        return
    worst, base = result["worst"], result["baseline"]["success"]
    s = worst["assessment"]["success"]
    typer.echo(f"searched {result['evaluated']} of {result['space_size']} shifts ({result['method']})")
    typer.echo(f"base {world}: success {base['rate']:.0%}")
    typer.echo(f"worst shift: {worst['label']}")
    for key, old, new in worst["diff"]:
        typer.echo(f"  {key}: {old} -> {new}")
    typer.echo(f"  success {s['rate']:.0%} [{s['low']:.0%}, {s['high']:.0%}] over {s['n']} episodes")
    typer.echo(f"  inferred objective: {worst['inference']['best']}")
    typer.echo(f"verdict: {worst['verdict']['text']}")
    typer.echo(f"  {worst['verdict']['reason']}")
    typer.echo(f"run folder: {run_dir}")
