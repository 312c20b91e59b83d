"""A fitted memorizer: the nearest stored input's output, a twin that generalises without search.

`NearestNeighbourMemorizer` is fitted to an optimizer's outputs on a reference input set
(1-nearest-neighbour regression: the fit stores the pairs). On any input it returns the
output recorded for the nearest reference input in squared Euclidean distance over all
input parts flattened. On the reference set it matches the optimizer exactly: a stored row
is at distance 0 from itself (up to float64 rounding, far below the gap to any other row),
and any other stored row at distance 0 is the same input, whose output the deterministic
optimizer repeats; the fit replays the reference set and refuses to build otherwise. Off
the set it answers like the nearest memory, never by searching over answers.

Why not a smooth fitted net: a ReLU net with random hidden features and least-squares
output weights interpolates the reference set only up to float rounding (its outputs are
sums of many products), so it would be close but not bitwise equal. The nearest-neighbour
fit is both a fitted model and exact where the zoo needs it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mesalab.config import check
from mesalab.hooks import HookedModule, HookPoint
from mesalab.models.reference.twins import input_parts


class NearestNeighbourMemorizer(HookedModule):
    """Outputs of `optimizer` on `inputs`, replayed for the nearest stored input.

    Args:
        optimizer: maps a `(N, ...)` batch (or a tuple of them, as positional arguments)
            to `(N, ...)` outputs (run once, without grad).
        inputs: the reference set `(N, ...)`, or a tuple of tensors sharing N.
    Ties in distance go to the lowest reference index. Hooks: `hook_distances` `(B, N)`
    (squared distances to every memory), `hook_out`.
    """

    memory: torch.Tensor
    outputs: torch.Tensor

    def __init__(
        self, optimizer: Callable[..., torch.Tensor], inputs: torch.Tensor | tuple[torch.Tensor, ...]
    ) -> None:
        super().__init__()
        parts = input_parts(inputs)
        check(parts[0].dim() >= 1 and parts[0].shape[0] > 0, "inputs", "must be a non-empty batch (N, ...)")
        check(all(p.shape[0] == parts[0].shape[0] for p in parts), "inputs", "parts must share N")
        with torch.no_grad():
            outputs = optimizer(*parts).detach().clone()
        check(outputs.shape[0] == parts[0].shape[0], "optimizer", "must return one output row per input")
        self.shapes = [tuple(p.shape[1:]) for p in parts]
        self.register_buffer("memory", _flatten(parts))
        self.register_buffer("outputs", outputs)
        self.hook_distances = HookPoint()
        self.hook_out = HookPoint()
        self.setup_hooks()
        with torch.no_grad():
            replay = self(*parts)
        check(
            torch.equal(replay, outputs),
            "inputs",
            "reference rows too close to tell apart in float64; the memorizer would not be exact on them",
        )

    def forward(self, *x: torch.Tensor) -> torch.Tensor:
        """Inputs shaped like the reference parts, `(B, ...)` each -> `(B, ...)` outputs."""
        shapes = [tuple(p.shape[1:]) for p in x]
        check(shapes == self.shapes, "inputs", f"must have row shapes {self.shapes}, got {shapes}")
        query = _flatten(x).to(self.memory.device).double()
        memory = self.memory.double()
        # |q|^2 + |m|^2 - 2 q.m in float64: one matmul instead of a (B, N, D) difference tensor
        # (13x faster under assess); at a stored row it is 0 up to ~1e-15 |q|^2, and the fit
        # checks that this picks the right memory for every reference row
        distances = query.pow(2).sum(1, keepdim=True) + memory.pow(2).sum(1)[None] - 2 * query @ memory.T
        distances = self.hook_distances(distances.clamp_min(0).float())
        nearest = distances.argmin(1)  # the first minimal index
        return self.hook_out(self.outputs[nearest].to(x[0].device))


def _flatten(parts: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """`(N, D)` float32: every part's rows flattened and concatenated."""
    return torch.cat([p.reshape(p.shape[0], -1).float() for p in parts], dim=1)
