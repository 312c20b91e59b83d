"""The emergence report skeleton: the finding in the answer box, the variant's sections, setup, trials."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesalab.overrides import reproduce_command
from mesalab.report.html import Answer, Section, Table, render_report, reproduce_section
from mesalab.store.runs import write_text_atomic
from mesalab.sweep.run import SweepResult, TrialRecord


@dataclass(frozen=True)
class ReportParts:
    """What one emergence report says beyond the skeleton."""

    title: str
    """The report's title."""
    lead: str
    """The question, one paragraph under the title."""
    finding: Callable[[dict[str, Any], Any], str]
    """`(summary, cfg) -> ` the finding paragraph."""
    aggregate_table: Callable[[dict[str, Any]], Table]
    """`summary ->` the table under the finding."""
    sections: Callable[[SweepResult, Any, dict[str, Any], list[TrialRecord]], list[Section]]
    """`(result, cfg, summary, done trials) ->` the sections between finding and setup."""
    setup: Callable[[Any], str]
    """`cfg ->` the setup paragraph (the sweep's size and time are added below it)."""
    axis_plural: str
    """What the swept values are called in the setup, e.g. `fractions`."""
    values: Callable[[Any], list[Any]]
    """The swept values of a config."""
    trials_table: Callable[[list[TrialRecord]], Table]
    """One row per trial."""
    command: str
    """The command that runs the experiment, e.g. `mesalab run emergence-icl`."""
    presets: Callable[[], dict[str, Any]]
    """`-> {flag: config}`: the configs the command starts from (`""` none, `"--quick"`)."""


def write_report(parts: ReportParts, result: SweepResult, cfg: Any, summary: dict[str, Any]) -> Path:
    """Write `report.html` into the sweep folder (it replaces the sweep's generic one)."""
    done = [t for t in result.trials if t.status == "done"]
    sweep_line = (
        f"Sweep: {len(parts.values(cfg))} {parts.axis_plural} x {cfg.seeds} seeds = {len(result.trials)} "
        f"trials ({len(done)} done); wall time {result.wall_s / 60:.1f} min for this call "
        f"({result.ran} trials run by it)."
    )
    sections = [
        *parts.sections(result, cfg, summary, done),
        Section("Setup", [parts.setup(cfg), sweep_line]),
        Section("Trials", tables=[parts.trials_table(result.trials)]),
        reproduce_section(reproduce_command(parts.command, cfg, parts.presets()), cfg.stable_hash()),
    ]
    answer = Answer(parts.finding(summary, cfg), parts.aggregate_table(summary))
    html = render_report(
        parts.title, parts.lead, sections, meta=f"sweep {result.sweep_dir.name}", answer=answer
    )
    path = result.sweep_dir / "report.html"
    write_text_atomic(path, html)
    return path
