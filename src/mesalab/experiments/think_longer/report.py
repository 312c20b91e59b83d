"""The think-longer report: one self-contained HTML file, figures first, every number measured."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch

from mesalab.envs.gridworld.oracle import UNREACHABLE
from mesalab.experiments.think_longer.probe import HYPOTHESES, hidden_states
from mesalab.report.html import EmbeddedFigure, Section, Table, embed_figure, esc, render_report
from mesalab.store.metrics import read_metrics
from mesalab.store.runs import write_text_atomic


def write_report(run_dir: Path, cfg: Any, results: dict[str, Any], memory: dict[str, Any]) -> Path:
    """Build `report.html` from the results and the in-memory net, probes and assessments."""
    sections = [
        _headline_section(results),
        _targets_section(results),
        _overthinking_section(results),
        _probe_section(cfg, results, memory),
        _curve_section(results),
        _shift_section(results),
        _training_section(run_dir, cfg, results),
    ]
    lead = (
        "A weight-tied recurrent conv net, with no search written into it, is trained from the BFS oracle "
        f"on {', '.join(map(str, cfg.train.sizes))}-sided mazes and then run for more iterations on "
        "larger held-out mazes. Does it solve them by thinking longer, and is what it does inside a search?"
    )
    html = render_report(
        "think-longer: a generic net that learns to search?", lead, sections, meta=f"run {run_dir.name}"
    )
    path = run_dir / "report.html"
    write_text_atomic(path, html)
    return path


def _headline_section(results: dict[str, Any]) -> Section:
    grid = results["grid"]
    fig, ax = plt.subplots(figsize=(8, 4))
    all_t: set[int] = set()
    for size, entry in grid["sizes"].items():
        ts = sorted(int(t) for t in entry["success"])
        all_t |= set(ts)
        ax.plot(ts, [entry["success"][str(t)]["rate"] for t in ts], marker="o", label=f"{size}x{size}")
    ax.axvline(grid["training_t"], color="#999", linestyle="--", linewidth=1, label="training T")
    ax.set_xscale("log")
    ax.set_xlabel("test-time iterations T")
    ax.set_ylabel("greedy success on held-out mazes")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    rows = []
    for size, entry in grid["sizes"].items():
        cells = [
            f"T={t}: {entry['success'][str(t)]['rate']:.0%}" for t in sorted(int(t) for t in entry["success"])
        ]
        steps = entry["optimal_steps"]
        rows.append(
            [size, entry["episodes"], "; ".join(cells), entry["needed_t"],
             f"{steps['median']:.0f} / {steps['p90']:.0f} / {steps['max']:.0f}", entry["step_limit"]]
        )  # fmt: skip
    table = Table(
        ["size", "mazes", "success at each T", "T needed", "optimal steps median / p90 / max", "step limit"],
        rows,
    )
    return Section(
        "Run longer: success against test-time iterations",
        [
            f"Training's longest pass ran T = {grid['training_t']} iterations (run here on the sizes above "
            "the training sizes; the training section says how deep carried states went). "
            "The map is computed once per maze from the maze alone; the agent follows its argmax from "
            "the start. <i>T needed</i> is the smallest T within 1 point of the size's best."
        ],
        tables=[table],
        figures=[embed_figure(fig, "Success vs T per maze size (held-out layouts).")],
    )


def _targets_section(results: dict[str, Any]) -> Section:
    rows = []
    for name, entry in results["targets"].items():
        value = entry["value"]
        shown = f"{value:.1%}" if "points" not in name else f"{value:.1f} points"
        rows.append([name, shown, entry["target"], "met" if entry["met"] else "missed"])
    return Section(
        "Issue 11's targets, as measured", [], tables=[Table(["target", "measured", "wanted", ""], rows)]
    )


def _overthinking_section(results: dict[str, Any]) -> Section:
    rows = [
        [c["size"], c["episodes"], c["needed_t"], f"{c['success_at_needed']:.0%}", c["longer_t"],
         f"{c['success_at_longer']:.0%}", f"{c['loss_points']:+.1f}"]
        for c in results["grid"]["overthinking"].values()
    ]  # fmt: skip
    return Section(
        "Overthinking check",
        [
            "The same held-out mazes at the T each size needs and at 4x that T; "
            "a loss is in points of success."
        ],
        tables=[Table(["size", "mazes", "T needed", "success", "4x T", "success", "loss (points)"], rows)],
    )


def _probe_section(cfg: Any, results: dict[str, Any], memory: dict[str, Any]) -> Section:
    probe = results["probe"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.6))
    for name in HYPOTHESES:
        ax.plot(probe["t"], probe["accuracy"][name], label=f"probe: {name}")
        ax.plot(probe["t"], probe["control"][name], linestyle=":", label=f"probe: {name} (untrained)")
        ax.plot(probe["t"], probe["moves"][name], linewidth=2, label=f"P(right|done) - P(right|not): {name}")
    ax.axhline(0.5, color="#999", linewidth=1)
    ax.set_xlabel("iteration t")
    ax.set_ylabel("balanced accuracy")
    ax.set_ylim(0.4, 1.02)
    ax.legend(fontsize=7)
    bx.plot(probe["t"], probe["true_radius"], label="BFS ring t (truth)")
    bx.plot(probe["t"], probe["radius"], label="decoded wavefront radius (probe)")
    for name in HYPOTHESES:
        bx.plot(probe["t"], probe["move_front"][name], label=f"front of right moves ({name} units)")
    bx.set_xlabel("iteration t")
    bx.set_ylabel("distance from the exit / pruning round")
    bx.legend(fontsize=8)
    fig.tight_layout()
    means = {h: float(np.mean(a)) for h, a in probe["accuracy"].items()}
    controls = {h: float(np.mean(a)) for h, a in probe["control"].items()}
    slope = _slope(probe["t"], probe["radius"], probe["true_radius"])
    moves = {h: float(np.nanmean(a)) for h, a in probe["moves"].items()}
    speeds = {h: _slope(probe["t"], probe["move_front"][h], probe["true_radius"]) for h in HYPOTHESES}
    winner = max(means, key=lambda h: means[h])
    move_winner = max(moves, key=lambda h: moves[h])
    said = (
        f"Mean balanced accuracy over iterations on {probe['test_size']}x{probe['test_size']} mazes "
        f"(probes fitted on {probe['fit_size']}x{probe['fit_size']}): "
        + "; ".join(f"{esc(h)} {means[h]:.3f} (untrained control {controls[h]:.3f})" for h in HYPOTHESES)
        + f". The hypothesis the state reads out best is <b>{esc(winner)}</b>. "
        + _pace_sentence(slope)
    )
    behaviour = (
        "Without a probe, from the per-iteration move maps on cells with a choice (dead ends left out): "
        "P(move right | done by t) - P(move right | not done), mean over t: "
        + "; ".join(f"{esc(h)} {moves[h]:.3f}" for h in HYPOTHESES)
        + f"; best: <b>{esc(move_winner)}</b>. The front of right moves (the first distance, or pruning "
        "round, where under 95% of cells move right) advances "
        + " and ".join(
            f"{speeds[h]:.2f} {'cells of distance' if h == 'wavefront' else 'rounds'}" for h in HYPOTHESES
        )
        + " per iteration (a pure wavefront from the exit: 1 cell of distance per iteration)."
    )
    return Section(
        "Catch it searching: what the hidden state says per iteration",
        [
            "A single linear readout of the hidden state per cell (closed-form ridge, pooled over "
            "iterations) "
            "is fitted for each hypothesis: <i>wavefront</i> (the cell is within t steps of the exit, as in "
            "breadth-first search from the exit) and <i>dead-end filling</i> (the cell has been pruned as a "
            "dead end within t rounds). The same probes on an untrained net of the same shape are "
            "the control.",
            said,
            behaviour,
        ],
        figures=[
            embed_figure(fig, "Probe accuracy per iteration, and the decoded front against the BFS ring."),
            _frames_figure(memory),
        ],
    )


def _pace_sentence(slope: float) -> str:
    """What the decoded wavefront's pace says, in words a reader need not decode: a front
    moving one BFS ring per iteration reads 1.0; a slope near 0 (or below) means none moves."""
    if math.isnan(slope):
        return "The true front stops moving too soon to measure the decoded front's pace."
    if slope < 0.1:
        return (
            f"The decoded wavefront does not move out from the exit (its radius changes by {slope:+.2f} "
            "cells per iteration while the true front moves 1.0): the probe finds no front spreading "
            "from the exit as the net iterates."
        )
    return (
        f"The decoded wavefront moves out from the exit at {slope:.2f} cells per iteration while "
        "the true front is still moving (1.0 is one BFS ring per iteration)."
    )


def _slope(ts: list[int], radius: list[int], truth: list[int]) -> float:
    """Least-squares slope of the decoded radius over the iterations where the true front moves."""
    moving = [i for i in range(len(ts)) if i == 0 or truth[i] > truth[i - 1]]
    if len(moving) < 2:
        return float("nan")
    return float(np.polyfit([ts[i] for i in moving], [radius[i] for i in moving], 1)[0])


def _frames_figure(memory: dict[str, Any], frames: int = 6) -> EmbeddedFigure:
    net, probe, batch = memory["net"], memory["probes"]["wavefront"], memory["test_batch"]
    size = batch.maze.shape[-1]
    states = hidden_states(net, batch.maze[:1], 2 * size)
    floor = (batch.distance[0] < UNREACHABLE).cpu().numpy()
    ts = sorted({max(1, round(2 * size * (i + 1) / frames)) for i in range(frames)})
    fig, axes = plt.subplots(2, len(ts), figsize=(2.2 * len(ts), 4.6))
    for j, t in enumerate(ts):
        score = torch.sigmoid(2 * probe.score(states[t - 1])[0]).cpu().numpy()
        truth = (batch.distance[0] <= t).cpu().numpy()
        axes[0, j].imshow(np.where(floor, score, np.nan), cmap="viridis", vmin=0, vmax=1)
        axes[1, j].imshow(np.where(floor, truth, np.nan), cmap="viridis", vmin=0, vmax=1)
        axes[0, j].set_title(f"t = {t}", fontsize=9)
        for ax in axes[:, j]:
            ax.axis("off")
    axes[0, 0].text(-3, size / 2, "decoded", rotation=90, va="center", fontsize=9)
    axes[1, 0].text(-3, size / 2, "BFS truth", rotation=90, va="center", fontsize=9)
    fig.tight_layout()
    return embed_figure(
        fig, "One held-out maze: the wavefront probe's reading (top) and cells within t of the exit (bottom)."
    )


def _curve_section(results: dict[str, Any]) -> Section:
    curve = results["curve"]
    if not curve:
        return Section("When does it arise?", ["No snapshots were taken (curve_points = 0)."])
    steps = [row["step"] for row in curve]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.plot(
        steps,
        [r["success_few"] for r in curve],
        marker="o",
        label=f"success, T = {curve[0]['few_t']} (1 x side)",
    )
    ax.plot(
        steps,
        [r["success_many"] for r in curve],
        marker="o",
        label=f"success, T = {curve[0]['many_t']} (4 x side)",
    )
    for name in HYPOTHESES:
        ax.plot(steps, [r["probe"][name] for r in curve], linestyle="--", label=f"probe: {name}")
    ax.set_xlabel("training step")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    fig.tight_layout()
    rows = [
        [r["step"], f"{r['success_few']:.0%}", f"{r['success_many']:.0%}",
         *[f"{r['probe'][h]:.3f}" for h in HYPOTHESES]]
        for r in curve
    ]  # fmt: skip
    return Section(
        "When does it arise? Snapshots during training",
        ["The gain from thinking longer is the gap between the two success curves."],
        tables=[
            Table(
                ["step", f"success T={curve[0]['few_t']}", f"success T={curve[0]['many_t']}", *HYPOTHESES],
                rows,
            )
        ],
        figures=[
            embed_figure(
                fig, "Big-maze success with few and many iterations, and probe accuracy, over training."
            )
        ],
    )


def _shift_section(results: dict[str, Any]) -> Section:
    rows = []
    for arm, per_dist in results["shift"]["arms"].items():
        for name, entry in per_dist.items():
            if name.startswith("_"):
                continue
            s = entry["success"]
            verdict = entry.get("verdict", {})
            rows.append(
                [arm, name, f"{s['rate']:.0%} [{s['low']:.0%}, {s['high']:.0%}]", entry["inference"]["best"],
                 verdict.get("text", "(training distribution)"), verdict.get("reason", "")]
            )  # fmt: skip
    return Section(
        "The shift: which objective did it learn?",
        [
            "Both nets act as policies on 11x11 red-door mazes (the map computed once per episode, "
            "read at the agent's cell). <code>narrow</code> trained on <code>red-door/train</code> "
            "(the exit is always red, nothing else is); <code>diverse</code> on "
            "<code>red-door/diverse</code>. The behavioural objective is inferred and the verdict "
            "decided by <code>mesalab.shift</code>, as in the red-door experiment."
        ],
        tables=[
            Table(["net", "distribution", "success [95% CI]", "inferred objective", "verdict", "why"], rows)
        ],
    )


def _training_section(run_dir: Path, cfg: Any, results: dict[str, Any]) -> Section:
    rows = read_metrics(run_dir / "metrics.jsonl")
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for tag in sorted({r.get("tag", "") for r in rows}):
        series = [
            (r["step"], r["charts/cell_accuracy"])
            for r in rows
            if r.get("tag") == tag and "charts/cell_accuracy" in r
        ]
        if series:
            ax.plot(*zip(*series, strict=True), label=f"{tag}: cell accuracy")
        scored = [(r["step"], r["select/score"]) for r in rows if r.get("tag") == tag and "select/score" in r]
        if scored:
            ax.plot(*zip(*scored, strict=True), marker="o", linestyle="--", label=f"{tag}: validation score")
    any_scored = any("select/score" in r for r in rows)
    ax.set_xlabel("training step")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    timings = results["timings_s"]
    kept = (
        "The main net's weights are their moving average at the last step."
        if cfg.train.ema_decay
        else "The main net's weights are its last."
    )
    if "narrow" in results.get("kept", {}):
        step, score = results["kept"]["narrow"]["step"], results["kept"]["narrow"]["score"]
        kept = (
            f"The main net's weights are its snapshot of step {step:,}, the best validation score "
            f"({score:.4f}: cells right on {cfg.train.select_mazes} held-out {cfg.train.select_size}x"
            f"{cfg.train.select_size} mazes at the worse of "
            f"{', '.join(f'{f:g}' for f in cfg.train.select_per_side)} x the side)"
            + (", its last." if step == cfg.train.steps else ", not its last.")
        )
    return Section(
        "Training and cost",
        [
            f"Base optimizer: supervised cross-entropy on the oracle's moves, {cfg.train.steps:,} steps of "
            f"{cfg.train.batch_size} mazes, sizes {', '.join(map(str, cfg.train.sizes))}, "
            f"{_net_words(cfg.model)}, {_t_range(cfg.train)}, progressive "
            f"prefix probability {cfg.train.progressive:g}{_recipe_extras(cfg.train, rows)}. {kept} Seconds: "
            + ", ".join(f"{esc(k)} {v:.0f}" for k, v in timings.items())
            + f" ({results['threads']} torch threads)."
        ],
        figures=[
            embed_figure(
                fig,
                "Fraction of labelled cells whose argmax move is optimal, per training batch"
                + ("; the validation score where snapshots were scored." if any_scored else "."),
            )
        ],
    )


def _net_words(model: Any) -> str:
    """The net's shape in words: width, gates, and the optional recurrence knobs that are on."""
    words = [f"width {model.width}", f"{model.gate_kernel}x{model.gate_kernel} gates"]
    if model.gate_sees_candidate:
        words.append("an update gate that reads the candidate")
    if model.cell_hidden:
        words.append(f"a {model.cell_hidden}-channel hidden layer per cell in the candidate")
    return ", ".join(words)


def _t_range(train: Any) -> str:
    """How training drew T, in words."""
    cap = f", at most {train.max_iterations}" if train.max_iterations else ""
    if train.min_per_side == train.max_per_side:
        return f"T = {train.min_per_side:g} x size{cap}"
    return f"T drawn from [{train.min_per_side:g}, {train.max_per_side:g}] x size{cap}"


def _recipe_extras(train: Any, rows: list[dict[str, Any]]) -> str:
    """The recipe's optional knobs, as a clause of the training sentence (`rows`: the metrics)."""
    extras = []
    if train.progressive and train.prefix_per_side:
        extras.append(
            f"the prefix (no gradient) drawn from [0, {train.prefix_per_side:g}] x size and run before the "
            f"graded T, so the net is graded after up to {train.training_t} iterations"
        )
    if train.carry_fraction:
        narrow = [r.get("charts/carried_deepest", 0) for r in rows if r.get("tag") == "narrow"]
        deepest = max(narrow, default=0)
        mismatch = train.carry_mismatch and f", {train.carry_mismatch:.0%} of them from another batch's state"
        extras.append(
            f"{train.carry_fraction:.0%} of the batches carry on one of the last {train.carry_pool} fresh "
            f"batches of their size from the state its previous pass left (no gradient through that pass), "
            f"so no pass runs past T = {train.training_t} while carried states went through up to "
            f"{int(deepest):,} iterations{mismatch or ''}"
        )
    if train.reach_only or train.decided_only:
        known = "a wave from the exit" + (" or dead-end filling" if train.decided_only else "")
        rest = train.unreached_weight and f", the rest pulled to uniform (weight {train.unreached_weight:g})"
        extras.append(f"only the cells {known} could have decided by then graded{rest or ''}")
    if train.lr_schedule != "constant":
        extras.append(f"a {train.lr_schedule} learning-rate schedule from {train.learning_rate:g}")
    if train.ema_decay:
        extras.append(f"the weights averaged (moving average, decay {train.ema_decay:g})")
    return "".join(f"; {e}" for e in extras)
