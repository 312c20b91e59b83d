"""Non-optimizer twins: models that match an optimizer's outputs without searching.

`LookupTableTwin` memorises a reference optimizer's outputs on a reference input set and
replays them. On that set it is indistinguishable from the optimizer by its outputs; inside
there is no search, only a table keyed on the exact input bytes. A detector that calls it
an optimizer from input-output behaviour on the reference set alone is fooled.

Inputs are one tensor `(N, ...)` or a tuple of tensors with a common first dimension (an
in-context regressor's `(x, y, x_query)`); a row's key then covers every part.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import torch

from mesalab.config import check
from mesalab.hooks import HookedModule, HookPoint


def row_key(row: torch.Tensor) -> bytes:
    """SHA-256 of a row's dtype, shape and exact bytes (so `-0.0` and `0.0` differ)."""
    data = row.detach().cpu().contiguous()
    header = f"{data.dtype}{tuple(data.shape)}".encode()
    return hashlib.sha256(header + data.numpy().tobytes()).digest()


class LookupTableTwin(HookedModule):
    """Replays `optimizer(*inputs)` row by row, keyed on the hash of each input row.

    Args:
        optimizer: maps a `(N, ...)` batch (or a tuple of them, passed as positional
            arguments) to `(N, ...)` outputs (run once, without grad).
        inputs: the reference input set `(N, ...)`, or a tuple of such tensors.
    Unknown inputs get `unknown_value` (default 0: uniform logits for a policy, the zero
    answer for a regressor). Duplicate reference rows keep the first output.
    Hook: `hook_out`.
    """

    outputs: torch.Tensor

    def __init__(
        self,
        optimizer: Callable[..., torch.Tensor],
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        unknown_value: float = 0.0,
    ) -> None:
        super().__init__()
        parts = input_parts(inputs)
        count = parts[0].shape[0] if parts[0].dim() >= 1 else 0
        check(count > 0, "inputs", "must be a non-empty batch (N, ...)")
        check(all(p.dim() >= 1 and p.shape[0] == count for p in parts), "inputs", "parts must share N")
        with torch.no_grad():
            outputs = optimizer(*parts).detach().clone()
        check(outputs.shape[0] == count, "optimizer", "must return one output row per input")
        self.register_buffer("outputs", outputs)
        self.input_shape = tuple(parts[0].shape[1:])
        self.unknown_value = float(unknown_value)
        self.table: dict[bytes, int] = {}
        for i in range(count):
            self.table.setdefault(_key(parts, i), i)
        self.hook_out = HookPoint()
        self.setup_hooks()

    def known(self, *x: torch.Tensor) -> torch.Tensor:
        """`(N,)` bool: which rows are in the table."""
        return torch.tensor([_key(x, i) in self.table for i in range(x[0].shape[0])], device=x[0].device)

    def forward(self, *x: torch.Tensor) -> torch.Tensor:
        rows = [self.table.get(_key(x, i), -1) for i in range(x[0].shape[0])]
        index = torch.tensor(rows, dtype=torch.int64, device=self.outputs.device)
        out = self.outputs[index.clamp_min(0)]
        hit = (index >= 0).view(-1, *[1] * (out.dim() - 1))
        out = torch.where(hit, out, torch.full_like(out, self.unknown_value))
        return self.hook_out(out.to(x[0].device))


def input_parts(inputs: Any) -> tuple[torch.Tensor, ...]:
    """A model's inputs as a tuple: one tensor `(N, ...)` or a tuple/list of tensors."""
    return tuple(inputs) if isinstance(inputs, tuple | list) else (inputs,)


def _key(parts: tuple[torch.Tensor, ...], i: int) -> bytes:
    """The key of row i: one part's `row_key`, or the hash of every part's."""
    if len(parts) == 1:
        return row_key(parts[0][i])
    return hashlib.sha256(b"".join(row_key(p[i]) for p in parts)).digest()
