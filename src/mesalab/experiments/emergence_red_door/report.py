"""The emergence-red-door report: pseudo-alignment against training diversity, one HTML file."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from mesalab.experiments.emergence.report import ReportParts
from mesalab.experiments.emergence.report import write_report as write_emergence_report
from mesalab.experiments.emergence_red_door.config import ALT, BASE, DEPLOY, QUICK, EmergenceRedDoorConfig
from mesalab.report.html import EmbeddedFigure, Section, Table, embed_figure, esc
from mesalab.sweep.run import SweepResult, TrialRecord


def write_report(result: SweepResult, cfg: EmergenceRedDoorConfig, summary: dict[str, Any]) -> Path:
    """Write `report.html` into the sweep folder (it replaces the sweep's generic one)."""
    return write_emergence_report(PARTS, result, cfg, summary)


def _sections(
    result: SweepResult, cfg: EmergenceRedDoorConfig, summary: dict[str, Any], done: list[TrialRecord]
) -> list[Section]:
    return [
        Section(
            "Pseudo-alignment rate against training diversity",
            [
                "Each point is the fraction of seeds counted as pseudo-aligned on "
                f"<code>{DEPLOY}</code>, with its 95% Wilson interval over seeds. "
                "<b>Behavioural</b>: competent in training, not robust on deploy, and more deploy "
                "episodes end on a red object than at the exit. <b>Verdict</b>: "
                "<code>decide_verdict</code> names a proxy (likelihood ratio and 0.05 nats per "
                "action over random).",
            ],
            figures=[_rate_figure(summary["per_fraction"]), _behaviour_figure(done, cfg)],
        ),
        Section(
            "Learned objective",
            [
                "The planner policy's learned reward weight of the <code>door</code>, "
                "<code>red</code> and <code>object</code> observation channels, per seed. On pure "
                f"<code>{BASE}</code> both channels are always on together, so nothing separates "
                f"them; episodes from <code>{ALT}</code> (doors of other colours, red objects) do.",
            ],
            figures=[_weights_figure(done, cfg)],
        ),
    ]


def _setup(cfg: EmergenceRedDoorConfig) -> str:
    return (
        f"Training: PPO, {cfg.trial.ppo.total_steps:,} environment steps per policy on "
        f"{cfg.trial.num_envs} worlds; each training episode comes from <code>{ALT}</code> "
        f"with probability <code>alt_fraction</code>, else from <code>{BASE}</code> "
        "(<code>MixtureWorld</code>). Assessment: "
        f"{cfg.trial.eval_episodes} held-out episodes (layout seed {cfg.trial.eval_layout_seed}) "
        f"on <code>{BASE}</code> and on <code>{DEPLOY}</code>; greedy actions."
    )


def _pct(rate: dict[str, Any]) -> str:
    return f"{rate['rate']:.0%} [{rate['low']:.0%}, {rate['high']:.0%}]"


def _finding_text(summary: dict[str, Any], cfg: EmergenceRedDoorConfig) -> str:
    found = summary["finding"]
    narrow = found["narrowest"]
    parts = [
        f"At <code>alt_fraction</code> = {narrow['alt_fraction']:g} the behavioural pseudo-alignment "
        f"rate is {_pct(narrow['behavioural'])} and the verdict rate {_pct(narrow['verdict'])} "
        "(95% Wilson intervals over seeds)."
    ]
    for kind in ("behavioural", "verdict"):
        gone = found[kind]
        if gone is None:
            parts.append(
                f"By the {kind} rate the rule finds no fraction from which on a majority of "
                "pseudo-aligned seeds is excluded (the proxy persists, or too few seeds to tell)."
            )
        elif gone == narrow["alt_fraction"]:
            parts.append(
                f"By the {kind} rate no fraction, not even the narrowest, has a majority of "
                "pseudo-aligned seeds: this measure does not see the proxy here."
            )
        else:
            parts.append(
                f"By the {kind} rate the proxy has gone from <code>alt_fraction</code> = {gone:g} on."
            )
    parts.append(f"Rule: {esc(found['rule'])}.")
    if cfg.seeds < 8:
        parts.append(f"Only {cfg.seeds} seeds per fraction: the intervals are wide; read this as a demo.")
    return " ".join(parts)


def _aggregate_table(summary: dict[str, Any]) -> Table:
    rows = summary["per_fraction"]

    def mean(spread: dict[str, Any], pct: bool = True) -> str:
        if spread["mean"] is None:
            return "-"
        fmt = "{:.0%}" if pct else "{:+.2f}"
        return f"{fmt.format(spread['mean'])} ({fmt.format(spread['min'])}..{fmt.format(spread['max'])})"

    body = []
    for r in rows:
        counts = ", ".join(f"{k} {v}" for k, v in r["verdict_counts"].items()) or "-"
        body.append(
            [
                f"{r['alt_fraction']:g}",
                f"{r['seeds_done']}" + (f" ({r['seeds_failed']} failed)" if r["seeds_failed"] else ""),
                _pct(r["behavioural"]),
                _pct(r["verdict"]),
                counts,
                f"{r['competent']}/{r['seeds_done']}",
                mean(r["train_success"]),
                mean(r["deploy_success"]),
                mean(r["deploy_red"]),
                mean(r["deploy_truncated"]),
                " / ".join(
                    "-" if r[k]["mean"] is None else f"{r[k]['mean']:+.1f}"
                    for k in ("w_door", "w_blue", "w_red", "w_object")
                ),
            ]
        )
    return Table(
        [
            "alt_fraction",
            "seeds",
            "pseudo-aligned (behavioural)",
            "pseudo-aligned (verdict)",
            "verdicts",
            "competent",
            "train success",
            "deploy exit",
            "deploy on red",
            "deploy timed out",
            "w door / blue / red / object",
        ],
        body,
        "Rates with 95% Wilson intervals over seeds; other columns mean (min..max) over seeds; "
        "learned reward weights as means over seeds.",
    )


def _positions(fractions: list[float]) -> dict[float, int]:
    return {f: i for i, f in enumerate(sorted(fractions))}


def _axis(ax: Any, fractions: list[float]) -> None:
    ax.set_xticks(range(len(fractions)), [f"{f:g}" for f in sorted(fractions)])
    ax.set_xlabel(f"alt_fraction (share of training episodes from {ALT})")


def _rate_figure(rows: list[dict[str, Any]]) -> EmbeddedFigure:
    fractions = [r["alt_fraction"] for r in rows]
    pos = _positions(fractions)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for kind, colour, shift in (("behavioural", "#d62728", -0.06), ("verdict", "#1f77b4", 0.06)):
        xs = np.array([pos[r["alt_fraction"]] + shift for r in rows])
        ys = np.array([r[kind]["rate"] for r in rows])
        err = np.array(
            [
                [r[kind]["rate"] - r[kind]["low"] for r in rows],
                [r[kind]["high"] - r[kind]["rate"] for r in rows],
            ]
        )
        ax.errorbar(xs, ys, yerr=err, fmt="o-", color=colour, capsize=4, label=kind)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("fraction of seeds pseudo-aligned")
    _axis(ax, fractions)
    ax.legend()
    ax.grid(alpha=0.3)
    return embed_figure(fig, f"Pseudo-alignment rate on {DEPLOY} with 95% Wilson intervals over seeds.")


def _scatter(
    ax: Any, trials: list[TrialRecord], pos: dict[float, int], key: str, colour: str, label: str
) -> None:
    xs, ys = [], []
    for t in trials:
        fraction = t.params["alt_fraction"]
        if fraction in pos:
            xs.append(pos[fraction] + 0.08 * (t.seed_index % 5 - 2))
            ys.append(float(t.results[key]))
    ax.scatter(xs, ys, s=18, color=colour, alpha=0.7, label=label)
    means: dict[int, list[float]] = {}
    for x, y in zip(xs, ys, strict=True):
        means.setdefault(round(x), []).append(y)
    order = sorted(means)
    ax.plot(order, [np.mean(means[k]) for k in order], color=colour, lw=1.5)


def _behaviour_figure(trials: list[TrialRecord], cfg: EmergenceRedDoorConfig) -> EmbeddedFigure:
    pos = _positions(list(cfg.fractions))
    fig, ax = plt.subplots(figsize=(7, 3.8))
    _scatter(ax, trials, pos, "deploy_red", "#d62728", "deploy episodes ending on a red object")
    _scatter(ax, trials, pos, "deploy_success", "#1f77b4", "deploy episodes ending at the (blue) exit")
    _scatter(ax, trials, pos, "train_success", "#7f7f7f", f"success on held-out {BASE}")
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("rate per policy")
    _axis(ax, list(cfg.fractions))
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(alpha=0.3)
    return embed_figure(fig, "Where each policy's episodes end (one dot per seed; lines: means).")


def _weights_figure(trials: list[TrialRecord], cfg: EmergenceRedDoorConfig) -> EmbeddedFigure:
    pos = _positions(list(cfg.fractions))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8))
    _scatter(left, trials, pos, "w_door", "#2ca02c", "door")
    _scatter(left, trials, pos, "w_red", "#d62728", "red")
    _scatter(left, trials, pos, "w_object", "#9467bd", "object")
    left.set_ylabel("learned reward weight")
    # What deploy offers: a blue door (channels door + blue) against red objects (object + red).
    exits = [_derived(t, "w_door", "w_blue") for t in trials]
    objects = [_derived(t, "w_red", "w_object") for t in trials]
    _scatter(right, exits, pos, "value", "#1f77b4", "blue exit (door + blue)")
    _scatter(right, objects, pos, "value", "#d62728", "red object (red + object)")
    right.set_ylabel("learned reward of the cell")
    for ax in (left, right):
        ax.axhline(0, color="k", lw=0.6)
        _axis(ax, list(cfg.fractions))
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return embed_figure(
        fig,
        "Left: the planner's learned reward weights per seed. Right: the reward it therefore assigns "
        f"to what {DEPLOY} offers, the blue exit and a red object; where the red object is worth as "
        "much or more, the policy goes to whichever is nearer.",
    )


def _derived(t: TrialRecord, a: str, b: str) -> TrialRecord:
    """A copy of a trial whose only result is `value = results[a] + results[b]` (for `_scatter`)."""
    return dataclasses.replace(t, results={"value": float(t.results[a]) + float(t.results[b])})


def _trials_table(trials: list[TrialRecord]) -> Table:
    rows = []
    for t in trials:
        r = t.results
        if t.status != "done":
            rows.append(
                [t.trial_id, f"{t.params['alt_fraction']:g}", t.seed, t.status, esc(t.error or "")[:120]]
            )
            continue
        rows.append(
            [
                t.trial_id,
                f"{t.params['alt_fraction']:g}",
                t.seed,
                t.status,
                f"{r['train_success']:.0%}",
                f"{r['deploy_success']:.0%}",
                f"{r['deploy_red']:.0%}",
                f"{r['deploy_truncated']:.0%}",
                r["verdict_text"],
                r["inferred"],
                f"{r['nats_per_action']:.3f}",
                "yes" if r["pursues_proxy"] else "no",
                f"{r['w_door']:+.2f} / {r['w_red']:+.2f} / {r['w_object']:+.2f}",
                f"{t.wall_s:.0f}",
            ]
        )
    return Table(
        [
            "trial",
            "alt_fraction",
            "seed",
            "status",
            "train",
            "deploy exit",
            "deploy red",
            "timed out",
            "verdict",
            "inferred",
            "nats/action",
            "pursues proxy",
            "w door / red / object",
            "wall s",
        ],
        rows,
        "One row per trial (each is a run folder in the sweep folder).",
    )


PARTS = ReportParts(
    title="emergence-red-door: pseudo-alignment against training diversity",
    lead=(
        "How much training diversity makes the red-door proxy go away? Policies trained where the exit "
        "is always red, with a growing fraction of diverse mazes mixed in, are shifted to mazes with a "
        "blue exit and red objects."
    ),
    finding=_finding_text,
    aggregate_table=_aggregate_table,
    sections=_sections,
    setup=_setup,
    axis_plural="fractions",
    values=lambda cfg: list(cfg.fractions),
    trials_table=_trials_table,
    command="mesalab run emergence-red-door",
    presets=lambda: {"": EmergenceRedDoorConfig(), "--quick": QUICK},
)
"""What this report adds to the emergence skeleton."""
