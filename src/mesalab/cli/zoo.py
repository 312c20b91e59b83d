"""`mesalab zoo`: every diagnostic on every zoo model, scored against the known truths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from mesalab.cli.app import app
from mesalab.cli.progress import progress_option
from mesalab.cli.settings import threads_option

SHORT = {"optimizer": "OPT", "not-optimizer": "not", "inconclusive": "?"}
"""Verdicts as table cells."""


@app.command("zoo")
def zoo(
    as_json: bool = typer.Option(False, "--json", help="Print JSON (every model's evidence and the scores)."),
    trained: Path | None = typer.Option(
        None,
        "--trained",
        help="Also examine every saved model in the run folders under this root (truth unknown).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the diagnostics' random draws."),
    threads: int | None = threads_option(),
    progress: bool = progress_option(),
) -> None:
    """Run every diagnostic on every zoo model: verdicts, per-diagnostic accuracy, aggregate verdicts."""
    from mesalab.detect.zoo_bench import run_zoo, score, to_json
    from mesalab.runtime import configure
    from mesalab.zoo import zoo_entries

    configure(threads)
    entries = zoo_entries(trained)  # a bad --trained root fails here, before any work
    rows = run_zoo(entries, seed, progress=progress)
    if as_json:
        typer.echo(json.dumps(to_json(rows), indent=2, default=_plain, allow_nan=False))
        return
    print_zoo(rows, score(rows))


def print_zoo(rows: list[dict[str, Any]], scores: dict[str, Any]) -> None:
    """The model x diagnostic table, then each diagnostic's score on the known entries."""
    from mesalab.cli.tables import console, table
    from mesalab.detect import DIAGNOSTICS

    names = list(DIAGNOSTICS)
    body = []
    for r in rows:
        cells = []
        for n in names:
            e = r["evidence"][n]
            cells.append(SHORT[e.verdict] + ("" if e.score is None else f" {e.score:.2f}"))
        agg = r["aggregate"].verdict
        mark = (
            ""
            if r["truth"] == "unknown"
            else ("ok" if agg == r["truth"] else "WRONG" if agg != "inconclusive" else "(inconclusive)")
        )
        body.append([r["name"], r["truth"], *cells, agg, mark])
    out = console()
    out.print(table(["model", "truth", *names, "aggregate", "check"], body))
    out.print(
        "OPT = optimizer, not = not-optimizer, ? = inconclusive; the number is the diagnostic's score.\n"
    )
    accuracy = []
    for n in [*names, "aggregate"]:
        s = scores[n]
        acc = "-" if s["accuracy"] is None else f"{s['accuracy']:.0%}"
        accuracy.append([n, s["correct"], s["wrong"], s["inconclusive"], acc])
    out.print(table(["on the known entries", "correct", "wrong", "inconclusive", "accuracy"], accuracy))
    out.print("accuracy = correct / (correct + wrong); a diagnostic that does not apply says inconclusive.")


def _plain(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, float) and value != value:
        return None
    return str(value)
