"""A first-order table: the optimizer's outputs and their derivatives, stored, never searched.

`FirstOrderTable` stores, for each reference input `r`, the optimizer's output `f(r)` and
its Jacobian `J(r) = df/dr` (by autograd, with respect to every input part), and answers an
input `q` with the first-order Taylor expansion around the nearest stored input:

    out(q) = f(r*) + J(r*) (q - r*),    r* = argmin_r |q - r|^2

On the reference set `q = r*`, the correction is exactly 0 and the output is `f(r*)` bit
for bit. Near it the table agrees with the optimizer to first order: a perturbation of size
e changes both outputs by `J e`, up to `O(e^2)`, so a detector that compares finite-difference
responses to small edits sees an optimizer. Far from it (a fresh input at the task's full
spread) the linear extrapolation from an unrelated memory is wrong. It is a non-optimizer
with ground truth: a table of values and slopes, and a nearest-neighbour lookup.

Assumption (checked for the zoo's optimizers by the twin tests): output row i depends on
input row i only, so one backward pass per output coordinate gives every row's Jacobian.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mesalab.config import check
from mesalab.hooks import HookedModule, HookPoint
from mesalab.models.reference.nearest import flatten_parts, squared_distances
from mesalab.models.reference.twins import input_parts


def jacobians(
    function: Callable[..., torch.Tensor], parts: tuple[torch.Tensor, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """`f(parts)` `(N, ...)` and the per-row Jacobian `(N, P, D)`: P output and D input coordinates.

    Rows must be independent (output row i a function of input row i alone).
    """
    leaves = [p.detach().clone().requires_grad_(True) for p in parts]
    with torch.enable_grad():
        out = function(*leaves)
        flat = out.reshape(out.shape[0], -1)  # (N, P)
        rows = []
        for j in range(flat.shape[1]):
            grads = torch.autograd.grad(flat[:, j].sum(), leaves, retain_graph=True, allow_unused=True)
            rows.append(
                torch.cat(
                    [
                        (torch.zeros_like(p) if g is None else g).reshape(p.shape[0], -1)
                        for g, p in zip(grads, leaves, strict=True)
                    ],
                    dim=1,
                )
            )
    return out.detach(), torch.stack(rows, dim=1)


class FirstOrderTable(HookedModule):
    """Nearest stored output plus the stored Jacobian times the offset from its input.

    Args:
        optimizer: maps a `(N, ...)` batch (or a tuple of them, as positional arguments)
            to `(N, ...)` outputs; differentiable in its inputs (autograd runs once).
        inputs: the reference set `(N, ...)`, or a tuple of tensors sharing N.
    Hooks: `hook_distances` `(B, N)` (squared distances to every memory), `hook_correction`
    `(B, P)` (the linear term, flattened outputs), `hook_out`.
    """

    memory: torch.Tensor
    outputs: torch.Tensor
    jacobian: torch.Tensor

    def __init__(
        self, optimizer: Callable[..., torch.Tensor], inputs: torch.Tensor | tuple[torch.Tensor, ...]
    ) -> None:
        super().__init__()
        parts = input_parts(inputs)
        memory = flatten_parts(parts)
        outputs, jacobian = jacobians(optimizer, parts)
        check(outputs.shape[0] == memory.shape[0], "optimizer", "must return one output row per input")
        check(
            bool(torch.isfinite(jacobian).all()),
            "optimizer",
            "has non-finite derivatives on the reference set",
        )
        self.shapes = [tuple(p.shape[1:]) for p in parts]
        self.register_buffer("memory", memory)
        self.register_buffer("outputs", outputs.clone())
        self.register_buffer("jacobian", jacobian.double())
        self.hook_distances = HookPoint()
        self.hook_correction = HookPoint()
        self.hook_out = HookPoint()
        self.setup_hooks()
        with torch.no_grad():
            replay = self(*parts)
        check(torch.equal(replay, outputs), "inputs", "the table does not replay its reference set exactly")

    def forward(self, *x: torch.Tensor) -> torch.Tensor:
        """Inputs shaped like the reference parts, `(B, ...)` each -> `(B, ...)` outputs."""
        shapes = [tuple(p.shape[1:]) for p in x]
        check(shapes == self.shapes, "inputs", f"must have row shapes {self.shapes}, got {shapes}")
        query = flatten_parts(x).to(self.memory.device)
        distances = self.hook_distances(squared_distances(query, self.memory).float())
        nearest = distances.argmin(1)
        offset = query - self.memory[nearest]  # (B, D), exactly 0 on a stored row
        correction = torch.einsum("bpd,bd->bp", self.jacobian[nearest], offset)
        correction = self.hook_correction(correction.to(self.outputs.dtype))
        base = self.outputs[nearest]
        return self.hook_out((base + correction.view_as(base)).to(x[0].device))
