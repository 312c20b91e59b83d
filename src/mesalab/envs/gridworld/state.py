"""The batched world state: a handful of tensors over B worlds."""

from __future__ import annotations

import dataclasses

import torch

NO_TARGET = -1
"""Index used for 'no target reached' and for absent target slots."""


@dataclasses.dataclass
class GridState:
    """The state of B worlds. Cells are flat indices `row * size + col`.

    Target slot 0 is the exit door; slots 1.. are objects (-1 where absent).
    """

    size: int
    """Grid side, outer wall included."""
    walls: torch.Tensor
    """`(B, size*size)` bool."""
    agent: torch.Tensor
    """`(B,)` int64 cell of the agent."""
    start: torch.Tensor
    """`(B,)` int64 cell the episode started from."""
    targets: torch.Tensor
    """`(B, T)` int64 cell of each target slot, -1 where absent."""
    colours: torch.Tensor
    """`(B, T)` int64 index into `COLOURS` of each target, -1 where absent."""
    start_dist: torch.Tensor
    """`(B, T)` int32 maze distance from the start to each target (ignoring other targets)."""
    steps: torch.Tensor
    """`(B,)` int64 steps taken this episode."""

    @property
    def batch_size(self) -> int:
        return int(self.agent.shape[0])

    @property
    def device(self) -> torch.device:
        return self.agent.device

    def clone(self) -> GridState:
        return dataclasses.replace(self, **{f: getattr(self, f).clone() for f in _TENSOR_FIELDS})

    def reached(self) -> torch.Tensor:
        """`(B,)` int64: the target slot the agent stands on, -1 for none."""
        hit = self.targets == self.agent[:, None]
        return torch.where(hit.any(1), hit.int().argmax(1), NO_TARGET)

    def grid(self, field: torch.Tensor) -> torch.Tensor:
        """View a `(B, size*size)` tensor as `(B, size, size)`."""
        return field.view(-1, self.size, self.size)


_TENSOR_FIELDS = [f.name for f in dataclasses.fields(GridState) if f.name != "size"]
