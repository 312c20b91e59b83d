"""A sweep's `report.html`: what was swept, a figure per metric, the table of trials.

Each metric is drawn against the first axis (numeric axes on a numeric scale), one
line per combination of the other axes, every seed a dot and the seed mean a line; a trial
whose results hold `<metric>_low` and `<metric>_high` (an interval) draws them as an error bar.
The report is self-contained (figures embedded), built from the trial folders only.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from mesalab.report.html import Answer, Section, Table, embed_figure, esc, render_report
from mesalab.store import write_text_atomic

if TYPE_CHECKING:
    from mesalab.sweep.experiment import SweepExperiment
    from mesalab.sweep.records import SweepResult, TrialRecord, TuneResult

MAX_LINES = 8
"""Most lines (combinations of the other axes) one figure draws."""


def write_sweep_report(result: SweepResult, exp: SweepExperiment) -> None:
    """Write `report.html` into the sweep folder."""
    trials = result.trials
    axes = list(trials[0].params) if trials else []
    metrics = _metrics(trials, exp)
    counts = {s: sum(t.status == s for t in trials) for s in ("done", "failed", "unfinished")}
    overview = Section(
        "Sweep",
        paragraphs=[
            f"Experiment <code>{esc(exp.name)}</code>: {esc(exp.description)}",
            f"Axes: {esc(', '.join(axes) or 'none')}; {len(trials)} trials: "
            f"{counts['done']} done, {counts['failed']} failed, {counts['unfinished']} unfinished.",
            "Each trial is a run folder beside this report; its seed derives from the sweep's base "
            "seed and the trial (its parameters and seed index), never from the worker count.",
        ],
    )
    figures = Section("Metrics against the axes")
    for metric in metrics:
        fig = _metric_figure(trials, axes, metric)
        if fig is not None:
            figures.figures.append(fig)
    if not figures.figures:
        figures.paragraphs.append("No numeric metric to draw (no trial finished, or no numeric results).")
    failures = [t for t in trials if t.status == "failed"]
    sections = [overview, figures, Section("Trials", tables=[_table(trials, axes, metrics)])]
    if failures:
        rows = [[t.trial_id, t.error or ""] for t in failures]
        sections.append(
            Section(
                "Failed trials",
                paragraphs=["The traceback of each is in <code>error.json</code> in its folder."],
                tables=[Table(["trial", "error"], rows)],
            )
        )
    html = render_report(
        f"Sweep {result.sweep_dir.name}",
        f"{len(trials)} trials of {exp.name} over {', '.join(axes) or 'seeds only'}.",
        sections,
        meta=f"sweep wall {result.wall_s:.1f} s; Ray start {result.ray_start_s:.1f} s",
        answer=_answer(trials, axes, metrics, counts),
    )
    write_text_atomic(result.sweep_dir / "report.html", html)


def _answer(trials: list[TrialRecord], axes: list[str], metrics: list[str], counts: dict[str, int]) -> Answer:
    """The box on top: how many trials finished, and each metric's range with where it peaks."""
    done = [t for t in trials if t.status == "done"]
    rows = []
    for metric in metrics:
        scored = [t for t in done if _is_number(t.results.get(metric))]
        if not scored:
            continue
        best = max(scored, key=lambda t: t.results[metric])
        values = [float(t.results[metric]) for t in scored]
        where = ", ".join(f"{a}={_fmt(best.params[a])}" for a in axes) or best.trial_id
        rows.append(
            [metric, _fmt(sum(values) / len(values)), f"[{_fmt(min(values))}, {_fmt(max(values))}]", where]
        )
    finding = (
        f"{counts['done']} of {len(trials)} trials finished ({counts['failed']} failed, "
        f"{counts['unfinished']} unfinished)"
    )
    finding += f"; {esc(rows[0][0])} is highest at {esc(rows[0][3])}." if rows else "."
    return Answer(finding, Table(["metric", "mean", "range over trials", "highest at"], rows))


def write_tune_report(result: TuneResult, exp: SweepExperiment) -> None:
    """Write `report.html` into the tune folder: the history of the study and its trials."""
    import matplotlib.pyplot as plt

    done = [t for t in result.trials if t["state"] == "complete"]
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    if done:
        xs = [t["number"] for t in done]
        ys = [float(t["value"]) for t in done]
        pick = max if result.direction == "maximize" else min
        best = [pick(ys[: i + 1]) for i in range(len(ys))]
        ax.scatter(xs, ys, s=14, label="trial")
        ax.step(xs, best, where="post", color="C1", label="best so far")
        ax.legend(fontsize=8)
    ax.set_xlabel("trial number")
    ax.set_ylabel(result.objective)
    ax.grid(alpha=0.3)
    names = sorted({k for t in result.trials for k in t["params"]})
    rows = [
        [
            t["number"],
            t["state"],
            _fmt(t["value"]) if t["value"] is not None else "",
            *[_fmt(t["params"].get(n, "")) for n in names],
            t["error"] or "",
        ]
        for t in result.trials
    ]
    best_text = (
        f"best {result.objective} = {result.best_value:.4g} with "
        + ", ".join(f"{k} = {_fmt(v)}" for k, v in (result.best_params or {}).items())
        if result.best_value is not None
        else "no trial completed"
    )
    sections = [
        Section(
            "Study",
            paragraphs=[
                f"Experiment <code>{esc(exp.name)}</code>; "
                f"Optuna study <code>{esc(result.study_name)}</code> "
                f"in <code>{esc(result.storage)}</code>; {result.direction} {esc(result.objective)}.",
                esc(best_text),
            ],
            figures=[embed_figure(fig, f"{result.objective} per trial and the best so far")],
        ),
        Section("Trials", tables=[Table(["trial", "state", result.objective, *names, "error"], rows)]),
    ]
    html = render_report(f"Tune {result.tune_dir.name}", f"{len(result.trials)} trials.", sections)
    write_text_atomic(result.tune_dir / "report.html", html)


def _metrics(trials: list[TrialRecord], exp: SweepExperiment) -> list[str]:
    numeric = []
    for t in trials:
        for key, value in t.results.items():
            if _is_number(value) and key not in numeric:
                numeric.append(key)
    declared = [m for m in exp.metrics if m in numeric]
    return declared or numeric[:6]


def _table(trials: list[TrialRecord], axes: list[str], metrics: list[str]) -> Table:
    headers = ["trial", "status", *axes, "seed", *metrics, "wall s", "error"]
    rows = []
    for t in trials:
        values = [_fmt(t.results.get(m, "")) for m in metrics]
        params = [_fmt(t.params[a]) for a in axes]
        rows.append([t.trial_id, t.status, *params, t.seed, *values, f"{t.wall_s:.1f}", t.error or ""])
    return Table(headers, rows, caption="Also in table.csv and table.parquet beside this report.")


def _metric_figure(trials: list[TrialRecord], axes: list[str], metric: str) -> Any:
    import matplotlib.pyplot as plt

    done = [t for t in trials if t.status == "done" and _is_number(t.results.get(metric))]
    if not done:
        return None
    x_axis = axes[0] if axes else None
    numeric_x = x_axis is not None and all(_is_number(t.params[x_axis]) for t in done)
    categories = sorted({str(t.params[x_axis]) for t in done}) if x_axis and not numeric_x else []
    groups: dict[str, list[TrialRecord]] = defaultdict(list)
    for t in done:
        others = ", ".join(f"{k}={_fmt(v)}" for k, v in t.params.items() if k != x_axis)
        groups[others].append(t)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    intervals = False
    for label, members in list(groups.items())[:MAX_LINES]:
        points: dict[Any, list[float]] = defaultdict(list)
        for t in members:
            x = _x_value(t, x_axis, numeric_x, categories)
            points[x].append(float(t.results[metric]))
        xs = sorted(points)
        dots = [(x, y) for x in xs for y in points[x]]
        line = ax.plot(xs, [sum(points[x]) / len(points[x]) for x in xs], marker="o", label=label or None)
        ax.scatter([d[0] for d in dots], [d[1] for d in dots], s=12, alpha=0.5, color=line[0].get_color())
        xs_of = [_x_value(t, x_axis, numeric_x, categories) for t in members]
        intervals = _error_bars(ax, members, metric, xs_of) or intervals
    if categories:
        ax.set_xticks(range(len(categories)), categories, rotation=20)
    ax.set_xlabel(x_axis or "seed index")
    ax.set_ylabel(metric)
    if any(groups):
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    caption = f"{metric} per trial (dots) and its mean over seeds (line)" + (
        f" against {x_axis}" if x_axis else ""
    )
    caption += "; bars: each trial's 95% interval" if intervals else ""
    return embed_figure(fig, caption)


def _error_bars(ax: Any, members: list[TrialRecord], metric: str, xs: list[float]) -> bool:
    """Each trial's `<metric>_low`..`<metric>_high` interval as a vertical bar at its dot;
    whether any trial had one."""
    low, high = f"{metric}_low", f"{metric}_high"
    bars = [
        (x, float(t.results[metric]), float(t.results[low]), float(t.results[high]))
        for x, t in zip(xs, members, strict=True)
        if _is_number(t.results.get(low)) and _is_number(t.results.get(high))
    ]
    if bars:
        ax.errorbar(
            [b[0] for b in bars], [b[1] for b in bars],
            yerr=[[b[1] - b[2] for b in bars], [b[3] - b[1] for b in bars]],
            fmt="none", ecolor="grey", alpha=0.6, capsize=3,
        )  # fmt: skip
    return bool(bars)


def _x_value(t: TrialRecord, x_axis: str | None, numeric_x: bool, categories: list[str]) -> float:
    if x_axis is None:
        return float(t.seed_index)
    if numeric_x:
        return float(t.params[x_axis])
    return float(categories.index(str(t.params[x_axis])))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "+".join(map(str, value))
    return str(value)
