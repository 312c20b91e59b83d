"""Gradient descent on the in-context loss, as LSA weights and as plain code, with its peers.

The in-context (mesa-)objective of a sequence is `L(w) = 1/(2N) sum_i (w . x_i - y_i)^2`.
One GD step from w0 = 0 with learning rate eta gives `w1 = (eta/N) sum_i y_i x_i`.
`gd_construction` writes K such steps as K linear self-attention layers (von Oswald et al.
2022, Prop. 1): W_KQ reads the x-part, W_PV writes `-eta` times the attention into the
y-part, so context token i carries `y_i - w_k . x_i` and the query carries `-w_k . x`.
Peers: least squares and ridge in closed form; eta and the ridge strength are fitted on a
batch (closed form for one step, line search otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from mesalab.config import check
from mesalab.envs.icl.sampler import Batch, tokens
from mesalab.hooks import HookedModule, HookPoint
from mesalab.models.lsa import LinearSelfAttention, LSAConfig

Predictor = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""(x (B, N, d), y (B, N), x_query (B, d)) -> predictions (B,)."""


def in_context_loss(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """L(w) per sequence, (B,): weights (B, d), context (B, N, d) and (B, N)."""
    residual = torch.einsum("bnd,bd->bn", x, w) - y
    return 0.5 * (residual**2).mean(-1)


def gd_iterates(x: torch.Tensor, y: torch.Tensor, eta: float, steps: int) -> torch.Tensor:
    """w_0 = 0, ..., w_steps of GD on L with step eta: (B, steps + 1, d)."""
    w = torch.zeros_like(x[:, 0])
    out = [w]
    for _ in range(steps):
        residual = torch.einsum("bnd,bd->bn", x, w) - y  # (B, N)
        w = w - eta * torch.einsum("bn,bnd->bd", residual, x) / x.shape[1]
        out.append(w)
    return torch.stack(out, dim=1)


class GradientDescent(HookedModule):
    """K steps of GD outside any network; the iterates are hooked as `iters.{k}.hook_iterate`.

    Thinks longer with `forward(..., steps=n)`: n steps of the same size (steps past K
    run unhooked).
    """

    compute_argument = "steps"
    default_compute = 1

    def __init__(self, eta: float, steps: int) -> None:
        super().__init__()
        self.eta, self.steps = float(eta), int(steps)
        self.default_compute = self.steps
        self.iterates = [_Iterate() for _ in range(steps)]
        self.iters = nn.ModuleList(self.iterates)
        self.setup_hooks()

    def forward(
        self, x: torch.Tensor, y: torch.Tensor, x_query: torch.Tensor, steps: int | None = None
    ) -> torch.Tensor:
        """Context (B, N, d), (B, N) and query (B, d) -> w_K . x_query, (B,)."""
        count = self.steps if steps is None else steps
        check(count >= 0, "steps", f"must be non-negative, got {count}", "0, 1, ...")
        w = torch.zeros_like(x_query)
        for k in range(count):
            residual = torch.einsum("bnd,bd->bn", x, w) - y
            w = w - self.eta * torch.einsum("bn,bnd->bd", residual, x) / x.shape[1]
            if k < len(self.iterates):
                w = self.iterates[k].hook_iterate(w)
        return (w * x_query).sum(-1)


class _Iterate(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hook_iterate = HookPoint()


def gd_construction(
    dim: int, eta: float, steps: int, device: str | torch.device | None = None
) -> LinearSelfAttention:
    """LSA weights that perform `steps` GD steps of size eta from w0 = 0 on every sequence."""
    model = LinearSelfAttention(LSAConfig(token_dim=dim + 1, n_layers=steps, init_scale=0.0), device=device)
    with torch.no_grad():
        for attn in model.attention_layers():
            attn.w_kq.zero_()
            attn.w_kq[:dim, :dim] = torch.eye(dim)  # score_ij = x_i . x_j
            attn.w_pv.zero_()
            attn.w_pv[dim, dim] = -eta  # y_j -= (eta/N) sum_i y_i x_i . x_j
    return model


class GDTransformer(LinearSelfAttention):
    """`gd_construction` taking `(x, y, x_query)`, and able to think longer.

    All layers carry the same weights, so `forward(x, y, x_query, steps=n)` runs n GD
    steps: the first `min(n, K)` through the hooked layers (`blocks.{i}.hook_resid_post`,
    ...), the rest by applying the same attention again, unhooked.
    """

    compute_argument = "steps"
    default_compute = 1

    def __init__(self, dim: int, eta: float, steps: int) -> None:
        super().__init__(LSAConfig(token_dim=dim + 1, n_layers=steps, init_scale=0.0))
        self.eta, self.default_compute = float(eta), steps
        self.load_state_dict(gd_construction(dim, eta, steps).state_dict())

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, y: torch.Tensor, x_query: torch.Tensor, steps: int | None = None
    ) -> torch.Tensor:
        """Context (B, N, d), (B, N) and query (B, d) -> predictions (B,)."""
        count = self.default_compute if steps is None else steps
        check(count >= 0, "steps", f"must be non-negative, got {count}", "0, 1, ...")
        resid = self.hook_embed(tokens(x, y, x_query))
        attention = self.attention_layers()[-1]
        for k in range(count):
            if k < len(self.blocks):
                resid = self.blocks[k](resid)
            else:  # LinearAttention.forward's arithmetic, without its hook
                context = resid[:, :-1]
                scores = (resid @ attention.w_kq.T) @ context.transpose(1, 2)
                resid = resid + (scores @ context / context.shape[1]) @ attention.w_pv.T
        return self.readout(resid[:, -1])


def least_squares(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Minimum-norm least-squares weights per sequence, (B, d), solved in float64."""
    w = torch.linalg.pinv(x.double()) @ y.double().unsqueeze(-1)
    return w.squeeze(-1).to(x.dtype)


def ridge(x: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    """Ridge weights argmin sum_i (w . x_i - y_i)^2 + lam |w|^2 per sequence, (B, d)."""
    xd, yd = x.double(), y.double()
    gram = xd.transpose(1, 2) @ xd + lam * torch.eye(x.shape[-1], dtype=xd.dtype, device=x.device)
    return torch.linalg.solve(gram, (xd.transpose(1, 2) @ yd.unsqueeze(-1))).squeeze(-1).to(x.dtype)


def fit_eta_one_step(batch: Batch) -> float:
    """The eta minimising the query loss of one GD step on `batch`, in closed form.

    The prediction is eta * u with u = (1/N) sum_i y_i x_i . x, so eta* = E[u y] / E[u^2].
    """
    u = torch.einsum("bn,bnd,bd->b", batch.y, batch.x, batch.x_query).double() / batch.x.shape[1]
    return float((u * batch.y_query.double()).sum() / (u * u).sum())


def fit_eta(batch: Batch, steps: int) -> float:
    """The eta minimising the query loss of `steps` GD steps on `batch`: grid, then golden section."""
    if steps == 1:
        return fit_eta_one_step(batch)

    def loss(eta: float) -> float:
        w = gd_iterates(batch.x.double(), batch.y.double(), eta, steps)[:, -1]
        return float(((w * batch.x_query.double()).sum(-1) - batch.y_query.double()).pow(2).mean())

    # Past 2/lambda_max of the data covariance GD diverges; 4x the one-step optimum brackets it.
    high = 4.0 * fit_eta_one_step(batch)
    return line_search(loss, 0.0, high)


def fit_ridge_lambda(batch: Batch) -> float:
    """The ridge strength minimising the query loss on `batch`, over a log grid refined by golden section."""

    def loss(log_lam: float) -> float:
        w = ridge(batch.x, batch.y, math.exp(log_lam))
        return float(((w * batch.x_query).sum(-1) - batch.y_query).pow(2).mean())

    return math.exp(line_search(loss, math.log(1e-6), math.log(1e2)))


def line_search(
    f: Callable[[float], float], low: float, high: float, grid: int = 41, iters: int = 40
) -> float:
    """The minimiser of a 1-D function on [low, high]: best of a grid, refined by golden section."""
    points = [low + (high - low) * i / (grid - 1) for i in range(grid)]
    values = [f(p) for p in points]
    best = min(range(grid), key=lambda i: values[i] if math.isfinite(values[i]) else math.inf)
    a, b = points[max(best - 1, 0)], points[min(best + 1, grid - 1)]
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iters):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return (a + b) / 2


def weights_predictor(fit: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Predictor:
    """A predictor `w(x, y) . x_query` from a weight estimator `(x, y) -> w (B, d)`."""

    def predict(x: torch.Tensor, y: torch.Tensor, x_query: torch.Tensor) -> torch.Tensor:
        return (fit(x, y) * x_query).sum(-1)

    return predict
