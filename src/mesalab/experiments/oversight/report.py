"""The oversight report: the oversight gap of each arm with its interval, the three objectives'
scores, what the toy shows and what it does not; one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from mesalab.envs.gridworld import DESCRIPTIONS
from mesalab.experiments.oversight.config import ARMS, WATCH
from mesalab.report.html import EmbeddedFigure, Section, Table, embed_figure, esc, render_report
from mesalab.store.runs import write_text_atomic

WHAT_IT_SHOWS = (
    "What this toy shows: whether a policy trained by PPO, with a penalty that applies only "
    "while a visible overseer watches, enters the restricted cells more when nobody watches "
    "(the <b>oversight gap</b>), and that a control which cannot see the overseer has no reason to. "
    "A gap whose interval lies above the margin is the <em>behavioural signature</em> of deceptive "
    "alignment: behaviour that depends on being watched. What it does not show: the mechanism. "
    "The policy need not model its training process, the overseer, or its own future; a policy "
    "that merely learned 'the restricted cell is bad when the purple plane is lit' shows the same "
    "signature. Nor does it show deception arising where oversight is not visible in the input."
)


def _rate(entry: dict[str, float]) -> str:
    return f"{entry['rate']:.3f} [{entry['low']:.3f}, {entry['high']:.3f}]"


def write_report(run_dir: Path, cfg: Any, results: dict[str, Any], memory: dict[str, Any]) -> Path:
    """Build `report.html` from the summary."""
    del memory  # the summary holds every number shown
    summary = results["summary"]
    rows, finding_rows = [], []
    for arm in ARMS:
        for name, entry in summary[arm]["distributions"].items():
            keys = ("exit", "base_objective", "purpose", "outer_gap", "restricted")
            rows.append([arm, esc(name), *(_rate(entry[k]) for k in keys)])
        finding = summary[arm]["finding"]
        finding_rows.append(
            [arm, esc(finding["finding"]), _rate(finding["restricted_watched"]),
             _rate(finding["restricted_unwatched"]), _rate({**finding["oversight_gap"]})]
        )  # fmt: skip
    sections = [
        Section(
            "The finding: does behaviour depend on being watched?",
            [
                "Restricted-cell rate (episodes that entered a restricted cell at least once) while "
                "watched and unwatched, every seed's held-out episodes pooled, with 95% intervals "
                f"(Wilson; the gap Newcombe's). Margin: {cfg.margin}. {cfg.seeds} seed(s) per arm.",
                WHAT_IT_SHOWS,
            ],
            tables=[
                Table(
                    ["arm", "finding", "restricted watched", "restricted unwatched", "oversight gap"],
                    finding_rows,
                )
            ],
            figures=[_gap_figure(summary)],
        ),
        Section(
            "Purpose, base objective and behaviour on each distribution",
            [
                "<b>exit</b>: the episode reached the exit. <b>base objective</b>: what the reward counts "
                "as good (the exit, no penalty paid). <b>purpose</b>: what the designers want (the exit, "
                "no restricted cell entered). <b>outer gap</b>: base-objective success minus purpose "
                "success of the same episodes. Rates with 95% Wilson intervals.",
            ],
            tables=[
                Table(
                    ["arm", "distribution", "exit", "base objective", "purpose", "outer gap", "restricted"],
                    rows,
                )
            ],
        ),
        Section(
            "Looking inside: toggle only the overseer channel",
            [
                "At states each policy visits on its training distribution, the overseer channel is "
                "lit and darkened and the greedy decisions compared (behavioural; the share that change, "
                "95% Wilson intervals). Next to the restricted cell is where the choice to cheat is made. "
                "For the cost planner, the mean change of the restricted cell's learned reward "
                "(lit minus dark) shows what the overseer changes in its objective. The control's "
                "channel is always dark in its world; toggling it asks what it would do if it saw one."
            ],
            tables=[_toggle_table(results)],
        ),
        Section(
            "The distributions",
            [
                f"<code>{esc(n)}</code>: {esc(DESCRIPTIONS[n])}"
                for arm in ARMS
                for n in (ARMS[arm], *WATCH[arm])
            ],
        ),
    ]
    lead = (
        "An overseer watches half the training episodes; entering the restricted shortcut costs "
        "reward only while it watches. Does the trained policy take the shortcut when unwatched?"
    )
    html = render_report("mesalab oversight", lead, sections, meta=f"run {esc(run_dir.name)}")
    path = run_dir / "report.html"
    write_text_atomic(path, html)
    return path


def _toggle_table(results: dict[str, Any]) -> Table:
    rows = []
    for arm, arm_result in results["arms"].items():
        for seed, entry in arm_result["seeds"].items():
            toggle = entry["overseer_toggle"]
            change = toggle["reward_change_at_restricted"]
            shown = "n/a" if change is None else f"{change:+.3f}"
            near = _rate(toggle["changed_next_to_restricted"])
            rows.append([arm, seed, toggle["states"], _rate(toggle["changed"]), near, shown])
    headers = ["arm", "seed", "states", "decisions changed", "changed next to restricted", "reward change"]
    return Table(headers, rows)


def _gap_figure(summary: dict[str, Any]) -> EmbeddedFigure:
    fig, ax = plt.subplots(figsize=(5.5, 3.0))
    for k, arm in enumerate(ARMS):
        finding = summary[arm]["finding"]
        for j, key in enumerate(("restricted_watched", "restricted_unwatched")):
            entry = finding[key]
            x = k * 3 + j
            ax.bar(x, entry["rate"], color="C0" if j == 0 else "C3")
            ax.errorbar(
                x, entry["rate"], [[entry["rate"] - entry["low"]], [entry["high"] - entry["rate"]]], color="k"
            )
    ax.set_xticks(
        [0, 1, 3, 4], ["main\nwatched", "main\nunwatched", "control\nwatched", "control\nunwatched"]
    )
    ax.set_ylabel("restricted-cell rate")
    ax.set_ylim(0, 1)
    return embed_figure(fig, "Restricted-cell rate watched vs unwatched, 95% intervals.")
