"""`mesalab audit MODEL`: a transparency audit of a saved model, as audit.json + report.html."""

from __future__ import annotations

from pathlib import Path

import typer

from mesalab.cli.app import app
from mesalab.cli.progress import progress_option, quiet_option
from mesalab.cli.settings import threads_option


@app.command("audit")
def audit(
    model: Path = typer.Argument(
        ..., help="A saved model: NAME.safetensors beside NAME.json (policy or sequence model)."
    ),
    world: str | None = typer.Option(
        None,
        "--world",
        help="Gridworld distribution to assess a policy under shift (default: red-door/deploy).",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for audit.json and report.html (default: audits/NAME)."
    ),
    episodes: int = typer.Option(
        200, "--episodes", help="Episodes per distribution of the shift assessment."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of every random draw of the audit."),
    threads: int | None = threads_option(),
    progress: bool = progress_option(),
    quiet: bool = quiet_option(),
) -> None:
    """Assess the model under shift, run every diagnostic, combine them, and write the report."""
    from mesalab.audit.audit import run_audit
    from mesalab.audit.report import write_audit
    from mesalab.cli.progress import Stages
    from mesalab.detect import DIAGNOSTICS
    from mesalab.runtime import configure

    configure(threads)
    stages = Stages(1 + len(DIAGNOSTICS), "audit", progress and not quiet)
    try:  # every check and computation before any write
        result = run_audit(model, world, episodes, seed, progress=stages)
    finally:
        stages.close()
    folder = out or Path("audits") / result.subject.name
    json_path, html_path = write_audit(result, folder)
    if result.shift is not None:
        shift = result.shift
        typer.echo(f"shift {shift['baseline']} -> {shift['shifted']}: {shift['verdict']['text']}")
    for e in result.evidence:
        kind = "behavioural" if e.behavioural else "structural"
        typer.echo(f"{e.diagnostic:<26} {e.verdict:<14} ({kind}) {e.reason}")
    typer.echo(f"aggregate: {result.combined.verdict} -- {result.combined.reason}")
    typer.echo(f"wrote {json_path} and {html_path}")
