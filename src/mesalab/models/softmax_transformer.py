"""A small softmax-attention transformer with MLPs, for in-context regression.

Pre-norm blocks as in GPT-2, but without a causal mask or positions: the context is a
set, so every token attends to every token, and a learned vector marks the query (the
last token). The prediction is a linear readout of the query token's final residual.
Hook names follow TransformerLens: `hook_embed`, `blocks.{i}.hook_resid_pre`,
`blocks.{i}.attn.hook_q` / `hook_k` / `hook_v` / `hook_attn_scores` / `hook_pattern` / `hook_z`,
`blocks.{i}.mlp.hook_pre` / `hook_post`, `blocks.{i}.hook_resid_post`, ...
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from mesalab.config import Config, check
from mesalab.hooks import HookedModule, HookPoint
from mesalab.models.kinds import register_model_kind
from mesalab.seeding import seeded_init


@dataclass(frozen=True)
class SoftmaxTransformerConfig(Config):
    """Width, depth and heads of the transformer."""

    token_dim: int = 11
    """Input token width D = d + 1."""
    d_model: int = 64
    """Residual stream width."""
    n_layers: int = 2
    """Number of blocks (attention then MLP)."""
    n_heads: int = 4
    """Attention heads per block; must divide d_model."""
    d_mlp: int = 256
    """Hidden width of each MLP."""
    init_seed: int = 0
    """Seed of the initial weights."""

    def validate(self) -> None:
        check(self.token_dim >= 2, "token_dim", f"must be >= 2, got {self.token_dim}")
        check(self.n_layers >= 1, "n_layers", f"must be >= 1, got {self.n_layers}")
        check(self.n_heads >= 1, "n_heads", f"must be >= 1, got {self.n_heads}")
        check(
            self.d_model % self.n_heads == 0, "d_model", f"must be a multiple of n_heads, got {self.d_model}"
        )
        check(self.d_mlp >= 1, "d_mlp", f"must be >= 1, got {self.d_mlp}")


class Attention(HookedModule):
    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.hook_q, self.hook_k, self.hook_v = HookPoint(), HookPoint(), HookPoint()
        self.hook_attn_scores = HookPoint()
        self.hook_pattern = HookPoint()
        self.hook_z = HookPoint()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d_model) -> (B, T, d_model)."""
        b, t, width = x.shape
        head = width // self.n_heads
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, head).permute(2, 0, 3, 1, 4)  # 3 x (B, H, T, h)
        q, k, v = self.hook_q(q), self.hook_k(k), self.hook_v(v)
        scores = self.hook_attn_scores(q @ k.transpose(-1, -2) / math.sqrt(head))  # (B, H, T, T)
        pattern = self.hook_pattern(torch.softmax(scores, dim=-1))  # (B, H, T, T)
        z = self.hook_z(pattern @ v)  # (B, H, T, h)
        return self.out(z.transpose(1, 2).reshape(b, t, width))


class MLP(HookedModule):
    def __init__(self, d_model: int, d_mlp: int) -> None:
        super().__init__()
        self.fc_in = nn.Linear(d_model, d_mlp)
        self.hook_pre = HookPoint()
        self.hook_post = HookPoint()
        self.fc_out = nn.Linear(d_mlp, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_out(self.hook_post(torch.nn.functional.gelu(self.hook_pre(self.fc_in(x)))))


class Block(HookedModule):
    def __init__(self, cfg: SoftmaxTransformerConfig) -> None:
        super().__init__()
        self.hook_resid_pre = HookPoint()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg.d_model, cfg.n_heads)
        self.hook_attn_out = HookPoint()
        self.hook_resid_mid = HookPoint()
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = MLP(cfg.d_model, cfg.d_mlp)
        self.hook_mlp_out = HookPoint()
        self.hook_resid_post = HookPoint()

    def forward(self, resid: torch.Tensor) -> torch.Tensor:
        resid = self.hook_resid_pre(resid)
        resid = self.hook_resid_mid(resid + self.hook_attn_out(self.attn(self.ln1(resid))))
        return self.hook_resid_post(resid + self.hook_mlp_out(self.mlp(self.ln2(resid))))


class SoftmaxTransformer(HookedModule):
    """Tokens (B, N + 1, D) -> prediction for the query (last) token, (B,)."""

    def __init__(self, cfg: SoftmaxTransformerConfig, device: str | torch.device | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        # Initial weights from (init_seed, path), not from the global RNG.
        with seeded_init(cfg.init_seed, "softmax-transformer-init"):
            self.embed = nn.Linear(cfg.token_dim, cfg.d_model)
            self.query_marker = nn.Parameter(torch.randn(cfg.d_model) * 0.02)
            self.hook_embed = HookPoint()
            self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
            self.ln_final = nn.LayerNorm(cfg.d_model)
            self.unembed = nn.Linear(cfg.d_model, 1)
        self.to(device)
        self.setup_hooks()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        resid = self.embed(tokens)
        marker = torch.zeros_like(resid[0, :, :1])  # (T, 1): 1 at the query position only
        marker[-1] = 1.0
        resid = self.hook_embed(resid + marker * self.query_marker)
        for block in self.blocks:
            resid = block(resid)
        return self.readout(resid[:, -1])

    def readout(self, query: torch.Tensor) -> torch.Tensor:
        """The query token's residual (B, d_model) -> prediction (B,)."""
        return self.unembed(self.ln_final(query)).squeeze(-1)


def _build(cfg: SoftmaxTransformerConfig) -> SoftmaxTransformer:
    return SoftmaxTransformer(cfg)


register_model_kind("softmax-transformer", SoftmaxTransformerConfig, _build)
