"""The nearest stored input: the lookup that every fitted twin of the zoo starts from.

Inputs are one tensor `(N, ...)` or a tuple of tensors sharing N (an in-context regressor's
`(x, y, x_query)`); a row is all its parts flattened and concatenated. Distances are
squared Euclidean, in float64: a stored row is at distance 0 from itself (up to ~1e-15 of
its squared norm), far below the gap to any other row of the zoo's reference sets, and the
twins built on it replay their reference set at build time to check it.
"""

from __future__ import annotations

import torch

from mesalab.config import check


def flatten_parts(parts: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """`(N, D)` float64: every part's rows flattened and concatenated."""
    check(parts[0].dim() >= 1 and parts[0].shape[0] > 0, "inputs", "must be a non-empty batch (N, ...)")
    check(all(p.shape[0] == parts[0].shape[0] for p in parts), "inputs", "parts must share N")
    return torch.cat([p.reshape(p.shape[0], -1).double() for p in parts], dim=1)


def squared_distances(query: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
    """`(B, N)` squared distances from each query row `(B, D)` to each memory row `(N, D)`.

    `|q|^2 + |m|^2 - 2 q.m` in float64: one matmul instead of a `(B, N, D)` difference tensor.
    """
    query, memory = query.double(), memory.double().to(query.device)
    distances = query.pow(2).sum(1, keepdim=True) + memory.pow(2).sum(1)[None] - 2 * query @ memory.T
    return distances.clamp_min(0)


def nearest_index(query: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
    """`(B,)` int64: the index of the nearest memory row (the lowest index among ties)."""
    return squared_distances(query, memory).argmin(1)
