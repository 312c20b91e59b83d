"""The Typer applications the command modules attach to."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="mesalab",
    help="A laboratory for learned optimization: train, shift, infer the objective, look inside, audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

run_app = typer.Typer(
    help="Run a flagship experiment; each ends in a run folder with report.html.", no_args_is_help=True
)
app.add_typer(run_app, name="run")
