"""`mesalab zoo`: every diagnostic on every zoo model, scored against the known truths."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from mesalab.cli.app import app

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
    threads: int | None = typer.Option(
        None, "--threads", help="Torch threads (default: $MESALAB_THREADS or 1)."
    ),
) -> None:
    """Run every diagnostic on every zoo model: verdicts, per-diagnostic accuracy, aggregate verdicts."""
    from mesalab.detect.zoo_bench import run_zoo, score, to_json
    from mesalab.runtime import configure
    from mesalab.zoo import zoo_entries

    # the diagnostics' tensors are small: one thread is as fast on a quiet machine and several
    # times faster on a busy one (measured: audit of a trained policy 17 s vs 101 s at load 7)
    configure(threads or int(os.environ.get("MESALAB_THREADS", "1")))
    entries = zoo_entries(trained)  # a bad --trained root fails here, before any work
    rows = run_zoo(entries, seed, progress=not as_json)
    if as_json:
        typer.echo(json.dumps(to_json(rows), indent=2, default=_plain, allow_nan=False))
        return
    for line in format_table(rows, score(rows)):
        typer.echo(line)


def format_table(rows: list[dict[str, Any]], scores: dict[str, Any]) -> list[str]:
    """The model x diagnostic table, then each diagnostic's score on the known entries."""
    from mesalab.detect import DIAGNOSTICS

    names = list(DIAGNOSTICS)
    width = max(len("model"), *(len(r["name"]) for r in rows))
    header = f"{'model':<{width}}  {'truth':<13}" + "".join(f"  {n[:13]:<13}" for n in names) + "  aggregate"
    lines = [header, "-" * len(header)]
    for r in rows:
        cells = []
        for n in names:
            e = r["evidence"][n]
            value = "" if e.score is None else f" {e.score:.2f}"
            cells.append(f"  {SHORT[e.verdict] + value:<13}")
        agg = r["aggregate"].verdict
        mark = (
            ""
            if r["truth"] == "unknown"
            else ("  ok" if agg == r["truth"] else "  WRONG" if agg != "inconclusive" else "  (inconclusive)")
        )
        lines.append(f"{r['name']:<{width}}  {r['truth']:<13}" + "".join(cells) + f"  {agg}{mark}")
    lines += [
        "",
        "OPT = optimizer, not = not-optimizer, ? = inconclusive; the number is the diagnostic's score.",
        "",
    ]
    lines.append(
        f"{'on the known entries':<27} {'correct':>7} {'wrong':>6} {'inconclusive':>13} {'accuracy':>9}"
    )
    for n in [*names, "aggregate"]:
        s = scores[n]
        acc = "-" if s["accuracy"] is None else f"{s['accuracy']:.0%}"
        lines.append(f"{n:<27} {s['correct']:>7} {s['wrong']:>6} {s['inconclusive']:>13} {acc:>9}")
    lines.append(
        "accuracy = correct / (correct + wrong); a diagnostic that does not apply says inconclusive."
    )
    return lines


def _plain(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, float) and value != value:
        return None
    return str(value)
