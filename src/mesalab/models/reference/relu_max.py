"""Option selection with ReLUs: the max of k inputs as fixed Linear + ReLU layers.

`max(a, b) = b + relu(a - b)`. A knockout tournament of such matches finds the max of k
values in `ceil(log2 k)` layers. Each layer is two hand-set `nn.Linear` maps (the
differences `a - b` of each pair, and the skip that carries `b`) and a ReLU; the last value
of an odd-sized round passes through by the skip alone. No `torch.max` is used anywhere.

The winner's payload (and its index) rides on the same ReLU's gate: a match passes
`gate * payload_a + (1 - gate) * payload_b` with `gate = relu'(a - b) = 1[a > b]`, the
activation pattern of the unit that computed the max.

Ties: in every match `b` is the lower-index side, and `a` wins only when strictly greater,
so among equal maxima the lowest index wins, the same rule as `torch.argmax`. The index
and payload are exact (the gate is exact: `a - b > 0` iff `a > b` for finite floats);
the value `b + (a - b)` equals `max` exactly whenever the subtraction is exact (integers,
dyadic values) and otherwise within one rounding per layer.

`BestOfKChooser` is an optimizer built on the selector: it scores k fixed candidate
answers with a known objective and returns the best one.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from mesalab.config import check
from mesalab.hooks import HookedModule, HookPoint


class Selection(NamedTuple):
    """What the selector returns."""

    value: torch.Tensor
    """`(B,)` the max of the k inputs."""
    argmax: torch.Tensor
    """`(B,)` int64 index of the winner (the lowest among ties)."""
    payload: torch.Tensor
    """`(B, payload_dim)` the winner's payload."""


def _fixed_linear(weight: torch.Tensor) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
    with torch.no_grad():
        layer.weight.copy_(weight)
    layer.weight.requires_grad_(False)
    return layer


class MaxLayer(nn.Module):
    """One round of the tournament over `n` values: `ceil(n / 2)` values out."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.pairs = n, n // 2
        self.out_size = self.pairs + n % 2
        diff = torch.zeros(self.pairs, n)
        skip = torch.zeros(self.out_size, n)
        for j in range(self.pairs):
            diff[j, 2 * j + 1], diff[j, 2 * j] = 1.0, -1.0  # a - b, a the higher index
            skip[j, 2 * j] = 1.0  # b
        if n % 2:
            skip[self.pairs, n - 1] = 1.0  # the odd one out passes through
        self.diff = _fixed_linear(diff)
        self.skip = _fixed_linear(skip)
        self.hook_out = HookPoint()

    def forward(self, values: torch.Tensor, payload: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`(B, n)` values and `(B, n, P)` payloads -> `(B, m)` and `(B, m, P)`."""
        pre = self.diff(values)  # (B, pairs)
        out = self.skip(values)
        out = torch.cat([out[:, : self.pairs] + torch.relu(pre), out[:, self.pairs :]], dim=1)
        gate = (pre > 0).to(payload.dtype)  # the ReLU's activation pattern
        low, high = payload[:, 0 : 2 * self.pairs : 2], payload[:, 1 : 2 * self.pairs : 2]
        gate = gate[:, :, None]
        chosen = gate * high + (1 - gate) * low  # exact: the gate is 0 or 1
        payload = torch.cat([chosen, payload[:, 2 * self.pairs :]], dim=1)
        return self.hook_out(out), payload


class ReluMaxSelector(HookedModule):
    """Max of k values in `ceil(log2 k)` Linear + ReLU layers, carrying the winner's payload.

    Hooks `layers.{i}.hook_out`: the `(B, ceil(n_i / 2))` surviving values after round i.
    """

    def __init__(self, k: int, payload_dim: int = 0) -> None:
        super().__init__()
        check(k >= 1, "k", f"must be at least 1, got {k}", "1, 2, ...")
        check(payload_dim >= 0, "payload_dim", f"must be non-negative, got {payload_dim}")
        self.k, self.payload_dim = k, payload_dim
        rounds, n = [], k
        while n > 1:
            rounds.append(MaxLayer(n))
            n = rounds[-1].out_size
        self.layers = nn.ModuleList(rounds)
        self.depth = len(rounds)
        assert self.depth == math.ceil(math.log2(k))
        self.setup_hooks()

    def forward(self, values: torch.Tensor, payload: torch.Tensor | None = None) -> Selection:
        """`(B, k)` values and optional `(B, k, payload_dim)` payloads -> `Selection`."""
        batch = values.shape[0]
        check(values.shape == (batch, self.k), "values", f"must be (B, {self.k}), got {tuple(values.shape)}")
        if payload is None:
            payload = values.new_zeros(batch, self.k, self.payload_dim)
        check(
            payload.shape == (batch, self.k, self.payload_dim),
            "payload",
            f"must be (B, {self.k}, {self.payload_dim}), got {tuple(payload.shape)}",
        )
        index = torch.arange(self.k, dtype=values.dtype, device=values.device)
        carried = torch.cat([index.expand(batch, self.k)[:, :, None], payload.to(values.dtype)], dim=2)
        for layer in self.layers:
            values, carried = layer(values, carried)
        return Selection(values[:, 0], carried[:, 0, 0].round().long(), carried[:, 0, 1:].to(payload.dtype))


class BestOfKChooser(HookedModule):
    """Scores k fixed candidate answers with a known objective and returns the best.

    Objective (given at construction, so the ground truth is known): for context `z` `(m,)`
    and answer `x` `(d,)`, `score(x, z) = z . A x + b . x - 0.5 x . Q x` (`A` `(m, d)`, `b`
    and `Q` optional, zero by default). The scores of all candidates are one fixed Linear map
    of z (`hook_scores`); `ReluMaxSelector` picks the best (lowest index among ties).
    """

    candidates: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor
    q: torch.Tensor

    def __init__(
        self,
        candidates: torch.Tensor,
        a: torch.Tensor,
        b: torch.Tensor | None = None,
        q: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        check(candidates.dim() == 2, "candidates", "must be (k, d)")
        k, d = candidates.shape
        check(a.dim() == 2 and a.shape[1] == d, "a", f"must be (m, {d}), got {tuple(a.shape)}")
        b = torch.zeros(d) if b is None else b
        q = torch.zeros(d, d) if q is None else q
        check(b.shape == (d,), "b", f"must be ({d},), got {tuple(b.shape)}")
        check(q.shape == (d, d), "q", f"must be ({d}, {d}), got {tuple(q.shape)}")
        self.register_buffer("candidates", candidates.detach().clone().float())
        self.register_buffer("a", a.detach().clone().float())
        self.register_buffer("b", b.detach().clone().float())
        self.register_buffer("q", q.detach().clone().float())
        cand = self.candidates
        self.score = nn.Linear(a.shape[0], k)
        with torch.no_grad():
            self.score.weight.copy_((self.a @ cand.T).T)
            self.score.bias.copy_(cand @ self.b - 0.5 * ((cand @ self.q) * cand).sum(1))
        self.score.requires_grad_(False)
        self.hook_scores = HookPoint()
        self.selector = ReluMaxSelector(k, d)
        self.setup_hooks()

    def objective(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The known objective, `(B,)`, for answers `x` `(B, d)` and contexts `z` `(B, m)`."""
        return (z @ self.a * x).sum(-1) + x @ self.b - 0.5 * ((x @ self.q) * x).sum(-1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Contexts `(B, m)` -> the chosen answers `(B, d)`."""
        return self.choose(z).payload

    def choose(self, z: torch.Tensor) -> Selection:
        scores = self.hook_scores(self.score(z))
        payload = self.candidates.expand(z.shape[0], -1, -1)
        return self.selector(scores, payload)


def best_of_k(candidates: torch.Tensor, objective_scores: torch.Tensor) -> torch.Tensor:
    """The ground truth: the candidate with the highest score, `(B, d)` (first among ties)."""
    return candidates[objective_scores.argmax(1)]
