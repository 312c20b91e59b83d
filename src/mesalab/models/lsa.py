"""Linear self-attention (von Oswald et al. 2022): no softmax, no MLP, no norm, K layers.

Tokens are `e_i = (x_i, y_i)` for the N context pairs and `e_q = (x, 0)` for the query, in
R^D with D = d + 1. Every layer adds to every token a linear attention over the context:

    e_j <- e_j + W_PV (1/N) sum_i e_i (e_i^T W_KQ e_j)        (i over context tokens only)

with `W_KQ = W_K^T W_Q` and `W_PV = P W_V` kept merged (one head: the products are all that
matter). The prediction is minus the y-coordinate of the query token after the last layer,
the readout under which one layer can be exactly one step of gradient descent.
Hook names follow TransformerLens: `hook_embed`, `blocks.{i}.hook_resid_pre`,
`blocks.{i}.attn.hook_attn_scores` (was `attn.hook_scores`, still accepted),
`blocks.{i}.attn.hook_z`, `blocks.{i}.hook_attn_out`, `blocks.{i}.hook_resid_post`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from mesalab.config import Config, check
from mesalab.hooks import HookedModule, HookPoint
from mesalab.models.kinds import register_model_kind
from mesalab.seeding import generator


@dataclass(frozen=True)
class LSAConfig(Config):
    """A stack of linear self-attention layers over tokens of width `token_dim`."""

    token_dim: int = 11
    """Token width D = d + 1 (input and target)."""
    n_layers: int = 1
    """Number of attention layers K."""
    init_scale: float = 0.01
    """Standard deviation of the initial weights; small keeps training off the saddle at 0 but near it."""
    init_seed: int = 0
    """Seed of the initial weights."""

    def validate(self) -> None:
        check(self.token_dim >= 2, "token_dim", f"must be >= 2 (an input and a target), got {self.token_dim}")
        check(self.n_layers >= 1, "n_layers", f"must be >= 1, got {self.n_layers}")
        check(self.init_scale >= 0, "init_scale", f"must be >= 0, got {self.init_scale}")


class LinearAttention(HookedModule):
    """One linear attention head whose keys and values are the context tokens."""

    HOOK_ALIASES: ClassVar[dict[str, str]] = {"hook_scores": "hook_attn_scores"}

    def __init__(self, width: int) -> None:
        super().__init__()
        self.w_kq = nn.Parameter(torch.zeros(width, width))
        self.w_pv = nn.Parameter(torch.zeros(width, width))
        self.hook_attn_scores = HookPoint()
        self.hook_z = HookPoint()

    def forward(self, resid: torch.Tensor) -> torch.Tensor:
        """(B, N + 1, D) -> the update of every token, (B, N + 1, D)."""
        context = resid[:, :-1]  # keys and values: the N context tokens, never the query
        n = context.shape[1]
        queries = resid @ self.w_kq.T  # (B, T, D): W_KQ e_j
        # Batched matmul here: measured 10x faster than broadcast-multiply-and-sum with backward.
        scores = self.hook_attn_scores(queries @ context.transpose(1, 2))  # (B, T, N): e_i^T W_KQ e_j
        mixed = self.hook_z(scores @ context / n)  # (B, T, D)
        return mixed @ self.w_pv.T


class LSABlock(HookedModule):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.hook_resid_pre = HookPoint()
        self.attn = LinearAttention(width)
        self.hook_attn_out = HookPoint()
        self.hook_resid_post = HookPoint()

    def forward(self, resid: torch.Tensor) -> torch.Tensor:
        resid = self.hook_resid_pre(resid)
        return self.hook_resid_post(resid + self.hook_attn_out(self.attn(resid)))


class LinearSelfAttention(HookedModule):
    """K layers of linear self-attention with a residual stream; `forward` returns predictions (B,)."""

    def __init__(self, cfg: LSAConfig, device: str | torch.device | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.hook_embed = HookPoint()
        self.blocks = nn.ModuleList([LSABlock(cfg.token_dim) for _ in range(cfg.n_layers)])
        gen = generator(cfg.init_seed, "lsa-init", cfg.n_layers)
        with torch.no_grad():
            for param in self.parameters():
                param.copy_(torch.randn(param.shape, generator=gen) * cfg.init_scale)
        self.to(device)
        self.setup_hooks()

    def attention_layers(self) -> list[LinearAttention]:
        """The attention module of each layer, in order."""
        return [block.attn for block in self.blocks if isinstance(block, LSABlock)]

    def residual(self, tokens: torch.Tensor) -> torch.Tensor:
        """The residual stream after the last layer, (B, N + 1, D)."""
        resid = self.hook_embed(tokens)
        for block in self.blocks:
            resid = block(resid)
        return resid

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens (B, N + 1, D) -> predictions for the query, (B,)."""
        return self.readout(self.residual(tokens)[:, -1])

    def readout(self, query: torch.Tensor) -> torch.Tensor:
        """The query token's residual (B, D) -> prediction (B,): minus its y-coordinate."""
        return -query[:, -1]


def _build(cfg: LSAConfig) -> LinearSelfAttention:
    return LinearSelfAttention(cfg)


register_model_kind("lsa", LSAConfig, _build)
