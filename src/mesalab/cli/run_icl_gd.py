"""`mesalab run icl-gd`: train LSA and softmax transformers on in-context regression, compare with GD."""

from __future__ import annotations

from pathlib import Path

import typer

from mesalab.cli.app import run_app
from mesalab.cli.progress import progress_option
from mesalab.cli.settings import device_option, flagship_command, out_option, set_option, threads_option


@run_app.command("icl-gd", cls=flagship_command("icl-gd"))
def icl_gd(
    quick: bool = typer.Option(False, "--quick", help="Short training (under a minute on 2 cores)."),
    seed: int | None = typer.Option(
        None,
        "--seed",
        help="Root seed of every batch and initialisation (default 0); shortcut for --set seed=N.",
    ),
    steps: int | None = typer.Option(
        None,
        "--steps",
        help="Train every model for N steps (smoke tests): shortcut for --set lsa1_steps=N, lsa3_steps=N, "
        "softmax_steps=N and eval_every=min(eval_every, N).",
    ),
    sets: list[str] = set_option(),
    out: Path = out_option("Root folder; the run gets a new folder inside."),
    threads: int | None = threads_option(),
    device: str | None = device_option(),
    progress: bool = progress_option(),
) -> None:
    """Does a transformer trained on in-context regression learn gradient descent? Ends in report.html."""
    from mesalab import runtime
    from mesalab.cli.settings import flagship_config
    from mesalab.experiments.icl_gd import IclGdConfig, run, with_steps
    from mesalab.overrides import apply_sets

    cfg = flagship_config("icl-gd", quick, [], {"seed": seed})
    assert isinstance(cfg, IclGdConfig)
    if steps is not None:
        cfg = with_steps(cfg, steps)
    cfg = apply_sets(cfg, sets)  # after --steps: an explicit field wins
    runtime.configure(threads)
    runtime.default_device(device)  # a bad --device fails before the bar and the run folder
    total = cfg.lsa1_steps + cfg.lsa3_steps + cfg.softmax_steps
    if not progress:
        run_dir = run(cfg, out, device)
    else:
        from tqdm import tqdm

        with tqdm(total=total, desc="training", unit="step", leave=True) as bar:

            def advance(name: str, n: int) -> None:
                bar.set_description_str(f"training {name}")
                bar.update(n)

            run_dir = run(cfg, out, device, advance)
    typer.echo(f"run folder: {run_dir}")
    typer.echo(f"report: {run_dir / 'report.html'}")
