"""The icl-gd report: built only from the stored results (the dict written to results.json)."""

from __future__ import annotations

import math
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from mesalab.config import Config
from mesalab.experiments.icl_gd.answer import MODELS, answer, fmt, reproduce
from mesalab.experiments.icl_gd.exact import EXACT_NOTE, exact_table
from mesalab.report.html import (
    EmbeddedFigure,
    Section,
    Table,
    embed_figure,
    esc,
    render_report,
    reproduce_section,
)

CLIP = (1e-4, 1e6)
COLOURS = {
    "lsa-1": "tab:blue",
    "lsa-3": "tab:orange",
    "softmax-2": "tab:green",
    "gd-1": "black",
    "gd-1 refit": "tab:grey",
    "gd-3": "tab:purple",
    "least-squares": "tab:red",
    "ridge": "tab:brown",
    "gd-1 construction": "black",
    "gd-3 construction": "tab:purple",
    "gd-3 iterates (exact)": "tab:pink",
}


def loss_figure(results: dict[str, Any]) -> EmbeddedFigure:
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    top = 0.0
    for name in MODELS:
        evals = results["training"][name]["evals"]
        losses = [e["test_loss"] for e in evals]
        top = max(top, losses[0])
        ax.plot([e["step"] for e in evals], losses, color=COLOURS[name], label=name)
    refs = results["reference_loss"]
    for ref in ("gd-1", "gd-3"):
        ax.axhline(refs[ref], color=COLOURS[ref], linestyle="--", linewidth=1.2, label=f"{ref} (eta fitted)")
    ax.set_ylim(0, 1.05 * top)
    ax.set_xlabel("training step")
    ax.set_ylabel("test query MSE")
    ax.set_title("Loss over training against the GD constructions")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    caption = (
        f"Least squares ({fmt(refs['least-squares'], 3)}) and ridge ({fmt(refs['ridge'], 3)}) sit near zero "
        "when N >= d and there is no noise: neither model is close to them."
    )
    return embed_figure(fig, caption)


def cosine_figure(results: dict[str, Any]) -> EmbeddedFigure:
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for name in MODELS:
        ref = results["models"][name]["matched_reference"]
        evals = results["training"][name]["evals"]
        ax.plot(
            [e["step"] for e in evals],
            [e[f"sens_cos_{ref}"] for e in evals],
            color=COLOURS[name],
            label=f"{name} vs {ref}",
        )
    ax.axhline(0.99, color="grey", linewidth=0.8, linestyle=":")
    ax.set_ylim(-0.1, 1.02)
    ax.set_xlabel("training step")
    ax.set_ylabel("mean cosine of d pred / d x_query")
    ax.set_title("Sensitivity cosine with the GD construction over training")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return embed_figure(
        fig, "Dotted line: 0.99. Each model against the GD construction with as many steps as it has layers."
    )


def mesa_figure(results: dict[str, Any]) -> EmbeddedFigure:
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for name, curve in results["mesa_curves"].items():
        values = [c["in_context_loss"] for c in curve]
        reference = name.startswith("gd-")
        ax.plot(
            range(len(values)),
            values,
            label=name,
            color=COLOURS.get(name, "grey"),
            marker="s" if reference else "o",
            linestyle=":" if reference else "-",
            markersize=8 if name == "gd-1 construction" else 5,
        )
    ax.set_xlabel("layer (0 = embedding) / GD step")
    ax.set_ylabel("in-context loss L(w) of the read-out w")
    ax.set_yscale("log")
    ax.set_xticks(range(4))
    ax.set_title("The mesa-objective through the layers")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    caption = (
        "w at each layer = d(probe)/d(x_query), the probe a least-squares readout of the query target from "
        "that layer's query-token residual; L(w) = 1/(2N) sum_i (w.x_i - y_i)^2. The probe may rescale "
        "the weights (shrinking them predicts the query better when N is close to d), so the same probe on "
        "the GD constructions is the like-for-like reference; the exact GD iterates are drawn too."
    )
    return embed_figure(fig, caption)


def shift_figure(results: dict[str, Any]) -> EmbeddedFigure:
    rows = results["shifts"]
    series = [*MODELS, "gd-3", "gd-1 refit", "least-squares"]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.8 / len(series)
    for i, name in enumerate(series):
        ratios = []
        for row in rows:
            base = row["reference_loss"]["gd-1"]
            loss = row["models"][name]["loss"] if name in row["models"] else row["reference_loss"][name]
            ratios.append(loss / base)
        xs = [j + (i - len(series) / 2 + 0.5) * width for j in range(len(rows))]
        shown = [min(max(r, CLIP[0]), CLIP[1]) for r in ratios]
        ax.bar(xs, shown, width=width, label=name, color=COLOURS.get(name))
        for x, r in zip(xs, ratios, strict=True):
            if r > CLIP[1]:  # mark the bars cut off at the top with their true order of magnitude
                ax.text(
                    x, CLIP[1] * 1.3, f"1e{math.floor(math.log10(r))}", rotation=90, fontsize=6, ha="center"
                )
    ax.axhline(1.0, color="k", linestyle="--", linewidth=1, label="gd-1 (train eta)")
    ax.set_yscale("log")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r["distribution"].removeprefix("icl/") for r in rows], rotation=20, fontsize=8)
    ax.set_ylim(CLIP[0], CLIP[1] * 1e3)
    ax.set_ylabel("query MSE / gd-1 (train eta) MSE")
    ax.set_title("Every model and reference on each distribution")
    ax.legend(fontsize=7, ncol=4)
    ax.grid(alpha=0.3, axis="y")
    return embed_figure(
        fig,
        "Bars are clipped to [1e-4, 1e6]; the label over a clipped bar gives its order of magnitude. "
        "gd-1 refit uses the step size that is best on the shifted "
        "distribution.",
    )


def summary_table(results: dict[str, Any]) -> Table:
    refs = results["reference_loss"]
    rows = []
    for name in MODELS:
        m = results["models"][name]
        versus = m["versus"]
        rows.append(
            [
                name,
                fmt(m["loss"]),
                fmt(m["loss"] / refs["gd-1"], 4),
                fmt(m["loss"] / refs["gd-3"], 4),
                fmt(versus["gd-1"]["sensitivity_cosine"], 4),
                fmt(versus["gd-1"]["prediction_difference"], 3),
                fmt(versus["gd-3"]["sensitivity_cosine"], 4),
                fmt(versus["gd-3"]["prediction_difference"], 3),
                fmt(versus["least-squares"]["sensitivity_cosine"], 3),
                fmt(m["learned_step"], 4),
            ]
        )
    for ref in ("gd-1", "gd-3", "least-squares", "ridge"):
        rows.append(
            [ref, fmt(refs[ref]), fmt(refs[ref] / refs["gd-1"], 4), fmt(refs[ref] / refs["gd-3"], 4)]
            + [""] * 6
        )
    headers = [
        "model",
        "test MSE",
        "/ gd-1",
        "/ gd-3",
        "cos gd-1",
        "pred diff gd-1",
        "cos gd-3",
        "pred diff gd-3",
        "cos least-sq",
        "learned step",
    ]
    return Table(
        headers,
        rows,
        "cos = mean cosine of sensitivities d pred/d x_query; pred diff = |p - p_ref| / |p_ref|; "
        "learned step = the eta of the one GD step that best matches the predictions.",
    )


def shift_tables(results: dict[str, Any]) -> list[Table]:
    loss_rows, like_rows = [], []
    for row in results["shifts"]:
        refs, models = row["reference_loss"], row["models"]
        change = ", ".join(f"{k}={v}" for k, v in row["changes"].items()) or "(none)"
        loss_rows.append(
            [row["distribution"], change]
            + [fmt(models[m]["loss"], 3) for m in MODELS]
            + [fmt(refs[r], 3) for r in ("gd-1", "gd-1 refit", "gd-3", "least-squares", "ridge")]
            + [fmt(models["lsa-1"]["learned_step"], 3), fmt(row["eta_refit"], 3)]
        )
        for m in MODELS:
            v = models[m]["versus"]
            like_rows.append(
                [
                    row["distribution"],
                    m,
                    fmt(v["gd-1"]["prediction_difference"], 3),
                    fmt(v["least-squares"]["prediction_difference"], 3),
                    fmt(v["gd-1"]["sensitivity_cosine"], 3),
                    fmt(v["least-squares"]["sensitivity_cosine"], 3),
                    _closer(v),
                ]
            )
    loss_headers = [
        "distribution",
        "changes",
        *MODELS,
        "gd-1",
        "gd-1 refit",
        "gd-3",
        "least-sq",
        "ridge",
        "lsa-1 step",
        "best step",
    ]
    like_headers = [
        "distribution",
        "model",
        "pred diff gd-1",
        "pred diff least-sq",
        "cos gd-1",
        "cos least-sq",
        "closer to",
    ]
    return [
        Table(
            loss_headers,
            loss_rows,
            "Query MSE. gd-1, gd-3 and ridge keep the constants fitted on the training "
            "distribution; gd-1 refit and best step use the step size best on each distribution.",
        ),
        Table(
            like_headers,
            like_rows,
            "Does the model behave like one GD step with its training step size, or like least squares?",
        ),
    ]


def shift_paragraphs(results: dict[str, Any]) -> list[str]:
    """What the shift table says, in sentences: learned step kept or not, and the worst failures."""
    out = []
    for row in results["shifts"]:
        if row["distribution"] == "icl/train":
            continue
        refs, lsa1 = row["reference_loss"], row["models"]["lsa-1"]
        diff = 100 * lsa1["versus"]["gd-1"]["prediction_difference"]
        out.append(
            f"<b>{esc(row['distribution'])}</b> ({esc(row['description'])}): "
            f"lsa-1 MSE {fmt(lsa1['loss'], 3)}, "
            f"one GD step with the training eta {fmt(refs['gd-1'], 3)}, with the best eta here "
            f"({fmt(row['eta_refit'], 3)}) {fmt(refs['gd-1 refit'], 3)}, least squares "
            f"{fmt(refs['least-squares'], 3)}; lsa-1's step stays {fmt(lsa1['learned_step'], 3)} and its "
            f"predictions differ from gd-1 by {fmt(diff, 3)}%. "
            f"lsa-3 {fmt(row['models']['lsa-3']['loss'], 3)} against gd-3 {fmt(refs['gd-3'], 3)}; "
            f"softmax-2 {fmt(row['models']['softmax-2']['loss'], 3)} (best-matching step "
            f"{fmt(row['models']['softmax-2']['learned_step'], 3)})."
        )
    return out


def _closer(versus: dict[str, Any]) -> str:
    gd, ls = versus["gd-1"]["prediction_difference"], versus["least-squares"]["prediction_difference"]
    return "gd-1" if gd < ls else "least squares"


def depth_paragraphs(results: dict[str, Any]) -> list[str]:
    refs, lsa3 = results["reference_loss"], results["models"]["lsa-3"]
    curve = results["mesa_curves"]["lsa-3"]
    exact = results["mesa_curves"]["gd-3 iterates (exact)"]
    layers = ", ".join(fmt(c["in_context_loss"], 3) for c in curve)
    steps = ", ".join(fmt(c["in_context_loss"], 3) for c in exact)
    v = lsa3["versus"]
    beats = "beats" if lsa3["loss"] < refs["gd-1"] else "does not beat"
    return [
        f"The 3-layer LSA reaches test MSE {fmt(lsa3['loss'])}: it {beats} one GD step "
        f"({fmt(refs['gd-1'])}) and stands at {fmt(lsa3['loss'] / refs['gd-3'], 4)} times the loss of "
        "three GD steps with one fitted step size "
        f"({fmt(refs['gd-3'])}, eta {fmt(results['constants']['eta_3'], 4)}).",
        "Against the 3-step construction its sensitivity cosine is "
        f"{fmt(v['gd-3']['sensitivity_cosine'], 4)} and its "
        f"predictions differ by {fmt(100 * v['gd-3']['prediction_difference'], 3)}%; against one step, "
        f"{fmt(v['gd-1']['sensitivity_cosine'], 4)} and {fmt(100 * v['gd-1']['prediction_difference'], 3)}%.",
        f"In-context loss of the probe-read weights, embedding then each layer: {esc(layers)}; "
        f"of the exact GD iterates w_0..w_3: {esc(steps)}.",
        *_depth_shift_sentences(results),
    ]


def _depth_shift_sentences(results: dict[str, Any]) -> list[str]:
    """Where the 3-layer model departs from 3 GD steps off the training distribution."""
    rows = {row["distribution"]: row for row in results["shifts"]}
    out = []
    ratios = {
        name: row["models"]["lsa-3"]["loss"] / row["reference_loss"]["gd-3"] for name, row in rows.items()
    }
    worst = max(ratios, key=lambda n: ratios[n])
    out.append(
        f"Across the distributions, lsa-3's loss relative to gd-3 ranges from {fmt(min(ratios.values()), 3)} "
        f"to {fmt(ratios[worst], 3)} (on {esc(worst)})."
    )
    if "icl/train" in rows and "icl/w-scale-2" in rows:
        base, scaled = rows["icl/train"], rows["icl/w-scale-2"]
        gd_factor = scaled["reference_loss"]["gd-3"] / base["reference_loss"]["gd-3"]
        lsa_factor = scaled["models"]["lsa-3"]["loss"] / base["models"]["lsa-3"]["loss"]
        out.append(
            "GD is linear in the targets, so doubling w multiplies its loss by 4 (measured: "
            f"{fmt(gd_factor, 3)} for gd-3); lsa-3's loss changes by a factor {fmt(lsa_factor, 3)}: "
            "its prediction is not linear in the targets, so off the training distribution it is not GD."
        )
    return out


def write_report(results: dict[str, Any], cfg: Config) -> str:
    """The report HTML for one run's results."""
    refs = results["reference_loss"]
    lsa1 = results["models"]["lsa-1"]
    task = ", ".join(f"{k}={v}" for k, v in results["task"].items())
    lead = (
        "A linear self-attention layer trained on in-context linear regression learns one step of "
        "gradient descent on the in-context squared loss (von Oswald et al. 2022). Here three trained "
        "models are lined up against the hand-built GD construction, least squares and ridge, on the "
        "training distribution and on shifted ones."
    )
    train_secs = ", ".join(
        f"{m}: {results['training'][m]['steps']} steps in {results['training'][m]['seconds']:.1f} s"
        for m in MODELS
    )
    sections = [
        Section(
            "Summary",
            [
                f"Task: {esc(task)}. One-step GD with fitted eta = "
                f"{fmt(results['constants']['eta_1'], 4)} has test MSE "
                f"{fmt(refs['gd-1'])}; the 1-layer LSA reaches {fmt(lsa1['loss'])} "
                f"({lsa1['loss'] / refs['gd-1']:.4f} of it) with sensitivity cosine "
                f"{fmt(lsa1['versus']['gd-1']['sensitivity_cosine'], 5)} and prediction difference "
                f"{fmt(100 * lsa1['versus']['gd-1']['prediction_difference'], 3)}% against the construction.",
                f"Training (device {esc(results['device'])}, torch threads {results['threads']}): "
                f"{esc(train_secs)}.",
            ],
            [summary_table(results)],
        ),
        Section("Training", [], [], [loss_figure(results), cosine_figure(results)]),
        Section(
            "The mesa-objective through the layers",
            [
                "If a model runs GD on the in-context loss, the weights it holds after each layer "
                "should descend that loss.",
            ],
            [],
            [mesa_figure(results)],
        ),
        Section("Three layers against three GD steps", depth_paragraphs(results)),
        Section(
            "Distribution shifts",
            [
                "Each shifted distribution differs from icl/train only in the fields listed. A model "
                "that learned GD with a fixed step size keeps that step when the input scale changes: "
                "with larger inputs the step overshoots, where least squares is unaffected.",
                *shift_paragraphs(results),
            ],
            shift_tables(results),
            [shift_figure(results)],
        ),
        Section("Exact references", [EXACT_NOTE], [exact_table(results)]),
        reproduce_section(reproduce(cfg), cfg.stable_hash()),
    ]
    return render_report(
        "icl-gd: does a transformer learn gradient descent in context?",
        lead,
        sections,
        meta=f"{results['seconds']:.0f} s",
        answer=answer(results),
    )
