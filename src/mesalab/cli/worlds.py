"""`mesalab worlds`: list, compare and look at the registered gridworld distributions.

    mesalab worlds                                  # every distribution, one line each
    mesalab worlds list                             # the same
    mesalab worlds diff red-door/train red-door/deploy
    mesalab worlds show red-door/deploy --seed 3 --index 2 --png maze.png
    mesalab worlds show red-door/train --set size=15 --set max_steps=200

Bad input (an unknown name, a field out of range) raises `MesalabError`, which the entry
point prints as one line with exit code 2; nothing is written before validation passes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mesalab.cli.app import app
from mesalab.cli.settings import world_command
from mesalab.config import check, check_choice

worlds_app = typer.Typer(
    help="The gridworld distributions: list them, diff two, show a maze.",
    invoke_without_command=True,
)
app.add_typer(worlds_app, name="worlds")


@worlds_app.callback()
def list_worlds(ctx: typer.Context) -> None:
    """List every registered distribution with its one-line description."""
    if ctx.invoked_subcommand is None:
        _print_worlds()


@worlds_app.command("list")
def list_worlds_command() -> None:
    """List every registered distribution with its one-line description (as plain `worlds`)."""
    _print_worlds()


def _print_worlds() -> None:
    from mesalab.cli.tables import print_table
    from mesalab.envs.gridworld import DESCRIPTIONS, DISTRIBUTIONS

    print_table(
        ["distribution", "description"], [[n, DESCRIPTIONS.get(n, "")] for n in DISTRIBUTIONS.names()]
    )


@worlds_app.command("diff")
def diff_worlds(
    first: str = typer.Argument(..., help="A distribution name, e.g. red-door/train."),
    second: str = typer.Argument(..., help="Another distribution name, e.g. red-door/deploy."),
) -> None:
    """The fields in which two distributions differ, as a table."""
    from mesalab.envs.gridworld import get_distribution

    a, b = get_distribution(first), get_distribution(second)
    rows = [(field, _show(x), _show(y)) for field, x, y in a.diff(b)]
    if not rows:
        typer.echo(f"{first} and {second} do not differ")
        return
    header = ("field", first, second)
    widths = [max(len(row[k]) for row in [header, *rows]) for k in range(3)]
    lines = [header, tuple("-" * w for w in widths), *rows]
    for row in lines:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@worlds_app.command("show", cls=world_command())
def show_world(
    name: str = typer.Argument(..., help="A distribution name, e.g. red-door/deploy."),
    seed: int = typer.Option(0, "--seed", help="World seed (>= 0)."),
    index: int = typer.Option(0, "--index", help="Id of the (first) world to show (>= 0)."),
    batch: int = typer.Option(1, "--batch", help="How many consecutive worlds to show, from --index."),
    obs: str = typer.Option("symbolic", "--obs", help="Observation mode: symbolic or pixels."),
    png: Path | None = typer.Option(
        None, "--png", help="Also write a PNG (the picture for symbolic, the agent's pixels for pixels)."
    ),
    overrides: list[str] = typer.Option(
        [],
        "--set",
        metavar="FIELD=VALUE",
        help="Set a spec field (repeatable): VALUE is JSON, else text; a list field takes a comma list, "
        "e.g. size=15, exit_colours=red,blue. The fields are listed below.",
    ),
) -> None:
    """Print a maze of a distribution as ASCII; optionally save it as a PNG."""
    from mesalab.envs.gridworld import GridWorld, get_distribution
    from mesalab.envs.gridworld.gym_adapters import oversight_marks
    from mesalab.envs.gridworld.render import render_ascii, render_rgb, save_png
    from mesalab.overrides import apply_sets

    check(seed >= 0, "seed", f"must be >= 0, got {seed}")
    check(index >= 0, "index", f"must be >= 0, got {index}")
    check_choice(obs, "obs", ("symbolic", "pixels"))
    spec = get_distribution(name)
    spec = apply_sets(spec, overrides)
    world = GridWorld(spec, batch, seed=seed, obs_mode=obs, world_ids=list(range(index, index + batch)))
    observation = world.reset()
    shape = tuple(world.observation_shape)
    typer.echo(
        f"{name}  seed {seed}  observation {obs} {shape} {str(observation.dtype).removeprefix('torch.')}"
    )
    for row in range(batch):
        typer.echo(f"\nworld {index + row}")
        typer.echo(render_ascii(world.state, row, **oversight_marks(world, row)))
    if png is not None:
        if obs == "pixels":
            image = observation[0].permute(1, 2, 0).contiguous().cpu().numpy()
        else:
            image = render_rgb(world.state, 0, **oversight_marks(world, 0))
        typer.echo(f"\nwrote {save_png(image, png)} (world {index})")


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(map(str, value)) or "(none)"
    return str(value)
