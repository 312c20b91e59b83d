"""The red-door report: one self-contained HTML file with figures and the verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from mesalab.envs.gridworld import DESCRIPTIONS, get_distribution
from mesalab.envs.gridworld.render import render_rgb
from mesalab.experiments.red_door.config import QUICK, RedDoorConfig
from mesalab.overrides import reproduce_command
from mesalab.report.html import (
    Answer,
    EmbeddedFigure,
    Section,
    Table,
    embed_figure,
    esc,
    interval,
    render_report,
    reproduce_section,
    verdict_evidence,
)
from mesalab.report.plots import MazePanel, maze_figure
from mesalab.shift.features import feature_table
from mesalab.store.metrics import read_metrics
from mesalab.store.runs import write_text_atomic

ARM_COLOURS = {"narrow": (255, 140, 0), "diverse": (140, 60, 200)}
SHORT = {
    "red-door/train": "train",
    "red-door/diverse": "diverse",
    "red-door/deploy": "deploy",
    "red-door/blue-exit": "blue-exit",
    "red-door/red-objects": "red-objects",
}


def write_report(run_dir: Path, cfg: Any, results: dict[str, Any], memory: dict[str, Any]) -> Path:
    """Build `report.html` from the results and the in-memory assessments."""
    sections = [
        _verdict_section(results),
        _objective_section(results),
        Section(
            "Trajectories on the same deployment mazes",
            [
                "Seed 0 of each arm on the first held-out <code>red-door/deploy</code> mazes: "
                "<span style='color:#ff8c00'>narrow (orange)</span> and "
                "<span style='color:#8c3cc8'>diverse (purple)</span>, from the start (black ring). "
                "The exit is the blue door (an arch); the red things are objects (diamonds). "
                "Each panel's title says where each arm's episode ended.",
            ],
            figures=[_trajectory_figure(memory)],
        ),
        Section(
            "Which targets each arm reaches",
            [
                "Rate at which episodes end on a target each candidate objective pays for, "
                "with 95% Wilson intervals (seed 0 of each arm on held-out mazes).",
            ],
            figures=[_reach_figure(memory, name) for name in ("red-door/deploy", "red-door/red-objects")],
        ),
        _likelihood_section(results),
        Section(
            "Training",
            [_training_text(cfg)],
            figures=[_training_figure(run_dir)],
        ),
        _distribution_section(),
        reproduce_section(
            reproduce_command("mesalab run red-door", cfg, {"": RedDoorConfig(), "--quick": QUICK}),
            cfg.stable_hash(),
        ),
    ]
    lead = (
        "A base optimizer trains a policy where the exit is always a red door; the world then shifts to "
        "mazes whose exit is blue and whose red things are objects. Which objective did the policy learn?"
    )
    html = render_report(
        "red-door: robust or pseudo-aligned?",
        lead,
        sections,
        meta=f"run {run_dir.name}",
        answer=answer(results),
    )
    path = run_dir / "report.html"
    write_text_atomic(path, html)
    return path


def answer(results: dict[str, Any], shift: str = "red-door/deploy") -> Answer:
    """The box on top: each arm's verdict on deploy, one row per seed, with its interval."""
    rows, said = [], []
    for arm, arm_result in results["arms"].items():
        texts = []
        for seed, seed_result in arm_result["seeds"].items():
            entry = seed_result["distributions"].get(shift)
            if not entry or "verdict" not in entry:
                continue
            texts.append(entry["verdict"]["text"])
            rows.append(
                [arm, seed, entry["verdict"]["text"], verdict_evidence(entry["verdict"], entry["success"])]
            )
        if texts:
            top = max(set(texts), key=texts.count)
            said.append(f"the {arm} arm is {top} ({texts.count(top)} of {len(texts)} seeds)")
    finding = f"On {shift}, " + "; ".join(said) + "." if said else f"No verdict on {shift}."
    return Answer(
        esc(finding), Table(["arm", "seed", f"verdict on {SHORT.get(shift, shift)}", "evidence"], rows)
    )


def _verdict_section(results: dict[str, Any]) -> Section:
    paragraphs = []
    rows = []
    for arm, arm_result in results["arms"].items():
        for seed, seed_result in arm_result["seeds"].items():
            for name, entry in seed_result["distributions"].items():
                if "verdict" not in entry:
                    continue
                verdict = entry["verdict"]
                s = entry["success"]
                rows.append(
                    [
                        arm,
                        seed,
                        SHORT.get(name, name),
                        interval(s["rate"], s["low"], s["high"]),
                        verdict["text"],
                        verdict["reason"]
                        + (f" ({verdict['confidence_text']})" if verdict.get("confidence_text") else ""),
                    ]
                )
    for arm, per_dist in results["summary"].items():
        deploy = per_dist.get("red-door/deploy")
        if deploy:
            counts: dict[str, int] = {}
            for text in deploy["verdicts"]:
                counts[text] = counts.get(text, 0) + 1
            said = ", ".join(f"{n}× {esc(t)}" for t, n in counts.items())
            paragraphs.append(
                f"<b>{esc(arm)}</b> (trained on <code>{esc(results['arms'][arm]['trained_on'])}</code>): "
                f"on deploy, success {deploy['mean_success']:.0%} on average over seeds "
                f"(range {deploy['min_success']:.0%}"
                f"–{deploy['max_success']:.0%}); verdicts: {said}."
            )
    table = Table(["arm", "seed", "shift", "success [95% CI]", "verdict", "why"], rows)
    return Section("Verdicts", paragraphs, tables=[table])


def _objective_section(results: dict[str, Any]) -> Section:
    rows = []
    headers: list[str] = []
    for arm, arm_result in results["arms"].items():
        for seed, seed_result in arm_result["seeds"].items():
            weights = seed_result.get("learned_objective")
            if not weights:
                continue
            headers = list(weights)
            rows.append([arm, seed, *[f"{w:+.1f}" for w in weights.values()]])
    if not rows:
        return Section("What the policies want", ["This torso has no explicit reward map to read."])
    return Section(
        "What the policies want (the mesa-objective, read off the weights)",
        [
            "The planner's log-reward for a cell is its features times these weights (empty floor: -10). "
            "On <code>red-door/train</code> the door and red channels are always on together, so the base "
            "optimizer has no reason to prefer one; on diverse training they come apart.",
        ],
        tables=[Table(["arm", "seed", *headers], rows)],
    )


def _feature_rows(arm_result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The fitted cell-feature reward per seed and distribution (`shift.features`)."""
    headers: list[str] = []
    rows: list[list[Any]] = []
    for seed, seed_result in arm_result["seeds"].items():
        for name, entry in seed_result["distributions"].items():
            if name.startswith("_") or "inference" not in entry:
                continue
            head, fitted = feature_table(entry["inference"])
            if fitted:
                headers = ["seed", "distribution", *head[1:]]
                rows.append([seed, SHORT.get(name, name), *fitted[0][1:]])
    return headers, rows


def _likelihood_section(results: dict[str, Any]) -> Section:
    tables, fitted = [], []
    for arm, arm_result in results["arms"].items():
        headers, feature_rows = _feature_rows(arm_result)
        if feature_rows:
            caption = f"{arm} arm: the reward over cell features fitted to the actions, in steps."
            fitted.append(Table(headers, feature_rows, caption=caption))
        rows = []
        for seed, seed_result in arm_result["seeds"].items():
            for name, entry in seed_result["distributions"].items():
                if name.startswith("_"):
                    continue
                inf = entry["inference"]
                top = inf["ranking"][:4]
                cells = ", ".join(f"{r['objective']} {r['per_step']:.3f}" for r in top)
                tie = f" (tied: {', '.join(inf['tied_with_best'])})" if inf["tied_with_best"] else ""
                rows.append(
                    [
                        seed,
                        SHORT.get(name, name),
                        f"{inf['best']}{tie}",
                        cells,
                        f"{inf['llr_vs_runner_up']:.1f}",
                        f"{inf['llr_vs_uniform']:.1f}",
                        inf["steps"],
                    ]
                )
        tables.append(
            Table(
                [
                    "seed",
                    "distribution",
                    "inferred objective",
                    "log-likelihood per step (top 4)",
                    "LLR vs runner-up",
                    "LLR vs random",
                    "steps",
                ],
                rows,
                caption=f"{arm} arm. Random scores {np.log(0.25):.3f} per step.",
            )
        )
    return Section(
        "Behavioural objective: likelihood of the actions under each candidate",
        [
            "Each candidate objective defines a Boltzmann-rational agent acting on that objective's "
            "shortest-path values, with its temperature fitted by maximum likelihood. "
            "Identical likelihoods mean the data cannot "
            "tell the candidates apart; the first in preference order is named. "
            "Besides the named candidates, a reward over cell features (a weight per observation "
            "channel, in steps of detour it is worth) is fitted to the same actions: the behavioural "
            "counterpart of the planner's reward map. Channels that always occur together "
            "(on deploy: red and object, blue and door) share their weight.",
        ],
        tables=tables + fitted,
    )


def _training_text(cfg: Any) -> str:
    if cfg.arch == "recurrent" and cfg.recurrent.base_optimizer == "bc":
        bc = cfg.recurrent.bc
        return (
            f"Base optimizer: cloning the BFS oracle with dense labels (every floor cell's shortest-path "
            f"moves), {bc.steps:,} steps of {bc.batch_size} mazes, T drawn from "
            f"[{bc.min_per_side:g}, {bc.max_per_side:g}] x side; policy torso <code>recurrent</code> "
            f"(width {cfg.recurrent.model.width}), acting with T = {cfg.recurrent.per_side:g} x side."
        )
    torso = f"<code>{esc(cfg.arch)}</code>"
    if cfg.arch == "recurrent":
        torso += f" (width {cfg.recurrent.model.width}, T = {cfg.recurrent.per_side:g} x side)"
    return (
        f"Base optimizer: PPO, {cfg.ppo.total_steps:,} environment steps per policy on "
        f"{cfg.num_envs} worlds in parallel; policy torso {torso}, "
        f"observations <code>{esc(cfg.obs_mode)}</code>."
    )


def _trajectory_figure(memory: dict[str, Any], mazes: int = 4) -> EmbeddedFigure:
    arms = list(memory)
    deploy = {arm: memory[arm][0]["assessments"]["red-door/deploy"] for arm in arms}
    states = deploy[arms[0]].start_states
    cell_px = 16
    panels = []
    for i in range(min(mazes, len(deploy[arms[0]].trajectories))):
        image = render_rgb(
            states,
            i,
            trajectories=[deploy[arm].trajectories[i] for arm in arms],
            cell_px=cell_px,
            trajectory_colours=[ARM_COLOURS.get(a, (0, 0, 0)) for a in arms],
        )
        start = int(states.start[i])
        centre = ((start % states.size + 0.5) * cell_px, (start // states.size + 0.5) * cell_px)
        title = f"maze {i + 1}\n" + "\n".join(f"{a}: {_ending(deploy[a], i)}" for a in arms)
        panels.append(MazePanel(image, centre, title))
    colours = {a: ARM_COLOURS.get(a, (0, 0, 0)) for a in arms}
    return maze_figure(panels, colours, "Paths of both arms on the same held-out deployment mazes.")


def _ending(assessment: Any, i: int) -> str:
    slot = int(assessment.reached[i])
    if slot < 0:
        return "timed out"
    return "reached the exit" if slot == 0 else "reached an object"


def _reach_figure(memory: dict[str, Any], name: str) -> EmbeddedFigure:
    arms = list(memory)
    candidates = memory[arms[0]][0]["assessments"][name].objective_names
    fig, ax = plt.subplots(figsize=(9, 3.2))
    width = 0.8 / len(arms)
    x = np.arange(len(candidates))
    for k, arm in enumerate(arms):
        reach = memory[arm][0]["assessments"][name].reach_rates()
        rates = np.array([reach[c]["rate"] for c in candidates])
        low = np.clip(rates - np.array([reach[c]["low"] for c in candidates]), 0, None)
        high = np.clip(np.array([reach[c]["high"] for c in candidates]) - rates, 0, None)
        colour = np.array(ARM_COLOURS.get(arm, (90, 90, 90))) / 255
        ax.bar(
            x + (k - (len(arms) - 1) / 2) * width,
            rates,
            width,
            yerr=[low, high],
            capsize=3,
            label=arm,
            color=colour,
        )
    ax.set_xticks(x, candidates, rotation=20)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("reach rate")
    ax.set_title(f"{name}: where episodes end")
    ax.legend()
    fig.tight_layout()
    return embed_figure(fig, f"Reach rate per candidate objective on {name} (95% Wilson intervals).")


def _training_figure(run_dir: Path) -> EmbeddedFigure:
    rows = read_metrics(run_dir / "metrics.jsonl")
    fig, ax = plt.subplots(figsize=(8, 3.2))
    tags = sorted({r.get("tag", "") for r in rows})
    # PPO logs rollout success; oracle cloning (arch=recurrent) the share of mazes whose map is right
    cloned = not any("charts/success" in r for r in rows)
    key = "charts/maze_accuracy" if cloned else "charts/success"
    for tag in tags:
        series = [(r["step"], r[key]) for r in rows if r.get("tag") == tag and key in r]
        if not series:
            continue
        steps, success = zip(*series, strict=True)
        arm = tag.split("/")[0]
        colour = np.array(ARM_COLOURS.get(arm, (90, 90, 90))) / 255
        ax.plot(steps, success, label=tag, color=colour, alpha=0.8)
    ax.set_xlabel("gradient steps" if cloned else "environment steps")
    ax.set_ylabel("mazes whose whole map is optimal" if cloned else "training success (base objective)")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    fig.tight_layout()
    if cloned:
        return embed_figure(
            fig, "Training curves: share of a batch's mazes whose move map is optimal at every cell."
        )
    return embed_figure(fig, "Training curves: fraction of finished episodes that left through the exit.")


def _distribution_section() -> Section:
    base = get_distribution("red-door/train")
    rows = []
    for name in SHORT:
        diff = base.diff(get_distribution(name))
        rows.append(
            [name, DESCRIPTIONS.get(name, ""), "; ".join(f"{f}: {a} → {b}" for f, a, b in diff) or "—"]
        )
    return Section(
        "The distributions", [], tables=[Table(["name", "what it is", "differs from train in"], rows)]
    )
