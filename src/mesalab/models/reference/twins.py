"""Non-optimizer twins: models that match an optimizer's outputs without searching.

`LookupTableTwin` memorises a reference optimizer's outputs on a reference input set and
replays them. On that set it is indistinguishable from the optimizer by its outputs; inside
there is no search, only a table keyed on the exact input bytes. A detector that calls it
an optimizer from input-output behaviour on the reference set alone is fooled.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import torch

from mesalab.config import check
from mesalab.hooks import HookedModule, HookPoint


def row_key(row: torch.Tensor) -> bytes:
    """SHA-256 of a row's dtype, shape and exact bytes (so `-0.0` and `0.0` differ)."""
    data = row.detach().cpu().contiguous()
    header = f"{data.dtype}{tuple(data.shape)}".encode()
    return hashlib.sha256(header + data.numpy().tobytes()).digest()


class LookupTableTwin(HookedModule):
    """Replays `optimizer(inputs)` row by row, keyed on the hash of each input row.

    Args:
        optimizer: maps a `(N, ...)` batch to `(N, ...)` outputs (run once, without grad).
        inputs: the reference input set `(N, ...)`.
    Unknown inputs get `unknown_value` (default 0: uniform logits for a policy, the zero
    answer for a regressor). Duplicate reference rows keep the first output.
    Hook: `hook_out`.
    """

    outputs: torch.Tensor

    def __init__(
        self,
        optimizer: Callable[[torch.Tensor], torch.Tensor],
        inputs: torch.Tensor,
        unknown_value: float = 0.0,
    ) -> None:
        super().__init__()
        check(inputs.dim() >= 1 and inputs.shape[0] > 0, "inputs", "must be a non-empty batch (N, ...)")
        with torch.no_grad():
            outputs = optimizer(inputs).detach().clone()
        check(outputs.shape[0] == inputs.shape[0], "optimizer", "must return one output row per input")
        self.register_buffer("outputs", outputs)
        self.input_shape = tuple(inputs.shape[1:])
        self.unknown_value = float(unknown_value)
        self.table: dict[bytes, int] = {}
        for i in range(inputs.shape[0]):
            self.table.setdefault(row_key(inputs[i]), i)
        self.hook_out = HookPoint()
        self.setup_hooks()

    def known(self, x: torch.Tensor) -> torch.Tensor:
        """`(N,)` bool: which rows are in the table."""
        return torch.tensor([row_key(x[i]) in self.table for i in range(x.shape[0])], device=x.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = [self.table.get(row_key(x[i]), -1) for i in range(x.shape[0])]
        index = torch.tensor(rows, dtype=torch.int64, device=self.outputs.device)
        out = self.outputs[index.clamp_min(0)]
        hit = (index >= 0).view(-1, *[1] * (out.dim() - 1))
        out = torch.where(hit, out, torch.full_like(out, self.unknown_value))
        return self.hook_out(out.to(x.device))
