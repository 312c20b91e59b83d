"""Render the figures that diagnostics keep as data (`mesalab.detect.Plot`) with matplotlib."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure

from mesalab.report.html import EmbeddedFigure, embed_figure


def plot_figure(plot: Any) -> Figure:
    """A matplotlib figure of a `Plot` (or its dict form): lines over x, or grouped bars."""
    data = plot if isinstance(plot, dict) else plot.to_dict()
    fig = Figure(figsize=(6.4, 3.4))
    ax = fig.add_subplot(1, 1, 1)
    x, series = data["x"], data["series"]
    if data.get("kind") == "bar":
        width = 0.8 / max(len(series), 1)
        for i, (name, values) in enumerate(series.items()):
            positions = [j + (i - (len(series) - 1) / 2) * width for j in range(len(x))]
            ax.bar(positions, [v if v == v else 0.0 for v in values], width, label=name)
        ax.set_xticks(range(len(x)))
        ax.set_xticklabels(
            [str(v) for v in x], rotation=30 if len(x) > 4 else 0, ha="right" if len(x) > 4 else "center"
        )
    else:
        for name, values in series.items():
            ax.plot(x, values, marker="o", markersize=3, label=name)
    for i, (name, value) in enumerate(data.get("hlines", {}).items()):
        ax.axhline(value, color=("#999", "#c55")[i % 2], linestyle="--", linewidth=1, label=name)
    ax.set_xlabel(data.get("xlabel", ""))
    ax.set_ylabel(data.get("ylabel", ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def embed_plot(plot: Any) -> EmbeddedFigure:
    """The plot as an embedded PNG with its title as caption."""
    data = plot if isinstance(plot, dict) else plot.to_dict()
    return embed_figure(plot_figure(data), data["title"])
