"""Render the figures that diagnostics keep as data (`mesalab.detect.Plot`) with matplotlib."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.path import Path

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


@dataclass(frozen=True)
class MazePanel:
    """One maze picture of a trajectory figure."""

    image: np.ndarray
    """`(H, W, 3)` uint8 RGB picture with the paths drawn (`envs.gridworld.render.render_rgb`)."""
    start: tuple[float, float]
    """`(x, y)` pixel centre of the start cell, marked with a ring."""
    title: str
    """Panel title; `\\n` breaks it into lines."""


ARCH = Path([(-1, -1), (-1, 1), (1, 1), (1, -1)], [Path.MOVETO, Path.LINETO, Path.LINETO, Path.LINETO])
"""The door glyph of `render_rgb` as a legend marker: a frame open at the bottom."""
START_RING = "#000000"
"""Colour of the ring around the start cell."""


def maze_figure(
    panels: Sequence[MazePanel], paths: dict[str, tuple[int, int, int]], caption: str, columns: int = 4
) -> EmbeddedFigure:
    """Maze pictures side by side with one legend: each path's colour, the start, door and objects.

    The glyphs match `render_rgb`: a door is an arch (a frame open at the bottom) in its
    colour, an object a diamond in its colour, the agent a dark disc at the start.
    """
    columns = max(1, min(columns, len(panels)))
    rows = -(-len(panels) // columns)
    fig = Figure(figsize=(3.1 * columns, 3.3 * rows + 0.7))
    for k, panel in enumerate(panels):
        ax = fig.add_subplot(rows, columns, k + 1)
        ax.imshow(panel.image)
        ax.scatter(
            [panel.start[0]], [panel.start[1]], s=220, facecolors="none", edgecolors=START_RING, linewidths=2
        )
        ax.set_title(panel.title, fontsize=10)
        ax.axis("off")
    handles = [
        Line2D([], [], color="#{:02x}{:02x}{:02x}".format(*rgb), linewidth=3, label=f"path: {label}")
        for label, rgb in paths.items()
    ]
    handles += [
        Line2D([], [], marker="o", markersize=11, markerfacecolor="none", markeredgecolor=START_RING,
               markeredgewidth=2, linestyle="none", label="start (dark disc)"),
        Line2D([], [], marker=ARCH, markersize=11, markerfacecolor="none", markeredgecolor="#555",
               markeredgewidth=2, linestyle="none", label="door: arch, in its colour"),
        Line2D([], [], marker="D", markersize=8, color="#555", linestyle="none",
               label="object: diamond, in its colour"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 3), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.12 if rows == 1 else 0.07, 1, 1))
    return embed_figure(fig, caption)
