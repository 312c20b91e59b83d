"""Batched, seeded sampling of in-context regression sequences.

`sample(spec, batch, gen)` draws B independent sequences with one torch generator, so the
same `(seed, path)` gives the same batch bit for bit; `tokens(...)` lays them out for a model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mesalab.envs.icl.spec import TaskSpec
from mesalab.seeding import generator


@dataclass(frozen=True)
class Batch:
    """B sequences of one task spec (all tensors on one device, float32)."""

    x: torch.Tensor
    """Context inputs, (B, N, d)."""
    y: torch.Tensor
    """Context targets, (B, N)."""
    x_query: torch.Tensor
    """Query inputs, (B, d)."""
    y_query: torch.Tensor
    """Query targets, (B,)."""
    w: torch.Tensor
    """The task weights of each sequence, (B, d)."""

    @property
    def size(self) -> int:
        return int(self.x.shape[0])

    def tokens(self) -> torch.Tensor:
        """The model input, (B, N + 1, d + 1): rows `(x_i, y_i)` then the query row `(x, 0)`."""
        return tokens(self.x, self.y, self.x_query)


def tokens(x: torch.Tensor, y: torch.Tensor, x_query: torch.Tensor) -> torch.Tensor:
    """Token layout from context (B, N, d), targets (B, N) and query (B, d): (B, N + 1, d + 1)."""
    context = torch.cat([x, y.unsqueeze(-1)], dim=-1)
    query = torch.cat([x_query, torch.zeros_like(x_query[:, :1])], dim=-1)
    return torch.cat([context, query.unsqueeze(1)], dim=1)


def task_pool(spec: TaskSpec, device: str | torch.device = "cpu") -> torch.Tensor:
    """The finite pool of task weights, (M, d), drawn from `(pool_seed, "icl-pool", dim)`."""
    if spec.pool_size is None:
        raise ValueError("task_pool needs a spec with pool_size set")
    gen = generator(spec.pool_seed, "icl-pool", spec.dim)
    return (torch.randn(spec.pool_size, spec.dim, generator=gen) * spec.w_scale).to(device)


def sample(spec: TaskSpec, batch: int, gen: torch.Generator, device: str | torch.device = "cpu") -> Batch:
    """B sequences; every draw comes from `gen` (a CPU generator, so CPU and CUDA agree)."""
    n, d = spec.n_context, spec.dim
    if spec.pool_size is None:
        w = torch.randn(batch, d, generator=gen) * spec.w_scale
    else:
        index = torch.randint(spec.pool_size, (batch,), generator=gen)
        w = task_pool(spec)[index]
    if spec.x_dist == "uniform":
        xs = (torch.rand(batch, n + 1, d, generator=gen) * 2 - 1) * spec.x_scale
    else:
        xs = torch.randn(batch, n + 1, d, generator=gen) * spec.x_scale
    ys = torch.einsum("bnd,bd->bn", xs, w)
    if spec.noise > 0:
        ys = ys + spec.noise * torch.randn(batch, n + 1, generator=gen)
    xs, ys, w = xs.to(device), ys.to(device), w.to(device)
    return Batch(x=xs[:, :n], y=ys[:, :n], x_query=xs[:, n], y_query=ys[:, n], w=w)


def sample_seeded(
    spec: TaskSpec, batch: int, seed: int, *path: object, device: str | torch.device = "cpu"
) -> Batch:
    """One batch drawn from a generator seeded by `(seed, path)`."""
    return sample(spec, batch, generator(seed, *path), device)
