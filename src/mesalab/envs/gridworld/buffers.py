"""The state buffers of a `GridWorld`: what the step reads of each world's current episode.

One int64 row per world holds its start, target cells, target colours and each slot's
colour-or-none side by side (`IntLayout`), so starting an episode copies one row; the
`GridState`'s `start`, `targets` and `colours` are views into it. Beside it sit the per-cell
code the move looks up (`cells`) and the objective pays-table (`pays`).
"""

from __future__ import annotations

import torch

from mesalab.envs.gridworld.objectives import pays_table
from mesalab.envs.gridworld.spec import COLOURS, WorldSpec
from mesalab.envs.gridworld.state import NO_TARGET, GridState

STATE_FIELDS = ("walls", "agent", "start", "targets", "colours", "start_dist", "steps")
"""The tensor fields of a `GridState`."""


class IntLayout:
    """Column ranges of the per-world int64 block: start | targets | colours | colour-or-none."""

    def __init__(self, num_targets: int, area: int) -> None:
        t = num_targets
        self.area = area
        self.start = 0
        self.targets = slice(1, 1 + t)
        self.colours = slice(1 + t, 1 + 2 * t)
        self.colour_or_none = slice(1 + 2 * t, 2 + 3 * t)
        self.width = 2 + 3 * t


class StateBuffers:
    """The current episode of B worlds as the step reads it, on one device."""

    def __init__(self, spec: WorldSpec, batch_size: int, num_objectives: int, device: torch.device) -> None:
        self.spec, self.device = spec, device
        self.layout = IntLayout(spec.num_targets, spec.size**2)
        self.ints = torch.zeros(batch_size, self.layout.width, dtype=torch.int64, device=device)
        """`(B, width)` the int block of `layout`."""
        self.cells = torch.full(
            (batch_size, spec.size**2 + 1), spec.num_targets + 1, dtype=torch.int16, device=device
        )
        """`(B, H*W + 1)` what each cell holds: its target slot, T for floor, T + 1 for wall (the
        last column is a sink for absent targets); int16 keeps the step's lookups in cache."""
        self.state = self._empty_state(batch_size)
        """All-wall worlds whose start, targets and colours are views into `ints`."""
        self.pays = torch.zeros(batch_size, spec.num_targets + 1, num_objectives, device=device)
        """`(B, T + 1, O)` what each objective pays on reaching each slot (slot T: nothing)."""

    @property
    def colour_or_none(self) -> torch.Tensor:
        """`(B, T + 1)`: each slot's colour, -1 for absent slots and for slot T (nothing)."""
        return self.ints[:, self.layout.colour_or_none]

    def rows(self, state: GridState, objective_names: list[str]) -> dict[str, torch.Tensor]:
        """The int block, the cell codes and the pays-table of `state`'s worlds (new rows)."""
        lay, num_targets = self.layout, self.spec.num_targets
        ints = torch.empty(state.batch_size, lay.width, dtype=torch.int64, device=self.device)
        ints[:, lay.start] = state.start
        ints[:, lay.targets] = state.targets
        ints[:, lay.colours] = state.colours
        ints[:, lay.colour_or_none] = torch.nn.functional.pad(state.colours, (0, 1), value=NO_TARGET)
        code = torch.nn.functional.pad(
            state.walls.to(torch.int16) + num_targets, (0, 1), value=num_targets + 1
        )
        sink = torch.full_like(state.targets, lay.area)  # absent targets write the sink column
        slots = torch.arange(num_targets, dtype=torch.int16, device=self.device).expand_as(state.targets)
        code.scatter_(1, torch.where(state.targets >= 0, state.targets, sink), slots)
        return {"ints": ints, "cells": code, "pays": pays_table(state, objective_names)}

    def _empty_state(self, batch_size: int) -> GridState:
        b, area, t = batch_size, self.spec.size**2, self.spec.num_targets
        lay = self.layout
        return GridState(
            size=self.spec.size,
            walls=torch.ones(b, area, dtype=torch.bool, device=self.device),
            agent=torch.zeros(b, dtype=torch.int64, device=self.device),
            start=self.ints[:, lay.start],
            targets=self.ints[:, lay.targets],
            colours=self.ints[:, lay.colours],
            start_dist=torch.zeros(b, t, dtype=torch.int32, device=self.device),
            steps=torch.zeros(b, dtype=torch.int64, device=self.device),
        )


def colour_map(names: tuple[str, ...], device: torch.device) -> torch.Tensor:
    """`(len(names),)` int64: each colour name's index into `COLOURS`."""
    return torch.tensor([COLOURS.index(n) for n in names], dtype=torch.int64, device=device)
