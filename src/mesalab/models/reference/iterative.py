"""Optimizers of the in-context loss outside plain gradient descent: heavy ball and CG.

Both minimise the same in-context (mesa-)objective as `gd.GradientDescent`,
`L(w) = 1/(2N) sum_i (w . x_i - y_i)^2 = 1/2 w^T S w - b . w + const` with
`S = X^T X / N` and `b = X^T y / N`, from w_0 = 0, and predict `w_K . x_query`. Their
iterates are hooked as `iters.{k}.hook_iterate` `(B, d)` (the weights after step k + 1),
and both think longer with `forward(..., steps=n)` (steps past K run unhooked).

- `HeavyBallGD` (Polyak momentum): `v_{k+1} = beta v_k - eta grad L(w_k)`,
  `w_{k+1} = w_k + v_{k+1}`. With `0 <= beta < 1` and `0 < eta < 2 (1 + beta) / lambda_max(S)`
  it converges to a minimiser of L on every sequence.
- `ConjugateGradient`: CG on `S w = b`, in float64 (`S` of N = d uniform inputs is
  ill-conditioned). Each step minimises L exactly along a direction conjugate to the
  previous ones, so after d steps it sits at the least-squares solution (the minimum-norm
  one from w_0 = 0, up to rounding). The residual is recomputed from the hooked iterate
  (`b - S w`) so an intervention on an iterate steers the rest of the run; directions use the
  Fletcher-Reeves update. A step whose curvature `p . S p` is numerically 0 (converged, or a
  direction in the null space of S when N < d) does not move.
"""

from __future__ import annotations

import torch
from torch import nn

from mesalab.config import check
from mesalab.hooks import HookedModule, HookPoint

TINY = 1e-30
"""Curvature and residual norms below this count as 0 in CG (float64)."""


class _Iterate(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hook_iterate = HookPoint()


def _statistics(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`S = X^T X / N` `(B, d, d)` and `b = X^T y / N` `(B, d)`, in float64."""
    xd, yd = x.double(), y.double()
    n = x.shape[1]
    return xd.transpose(1, 2) @ xd / n, torch.einsum("bnd,bn->bd", xd, yd) / n


class HeavyBallGD(HookedModule):
    """Gradient descent with momentum on the in-context loss; iterates `iters.{k}.hook_iterate`."""

    compute_argument = "steps"
    default_compute = 1

    def __init__(self, eta: float, beta: float, steps: int) -> None:
        super().__init__()
        check(eta > 0, "eta", f"must be positive, got {eta}")
        check(0.0 <= beta < 1.0, "beta", f"must be in [0, 1), got {beta}")
        check(steps >= 0, "steps", f"must be non-negative, got {steps}", "0, 1, ...")
        self.eta, self.beta, self.steps = float(eta), float(beta), int(steps)
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
        velocity = torch.zeros_like(x_query)
        for k in range(count):
            residual = torch.einsum("bnd,bd->bn", x, w) - y  # (B, N)
            gradient = torch.einsum("bn,bnd->bd", residual, x) / x.shape[1]
            velocity = self.beta * velocity - self.eta * gradient
            moved = w + velocity
            if k < len(self.iterates):
                moved = self.iterates[k].hook_iterate(moved)
            velocity = moved - w  # an edited iterate carries its own momentum on
            w = moved
        return (w * x_query).sum(-1)


class ConjugateGradient(HookedModule):
    """Conjugate gradient on the in-context loss; iterates `iters.{k}.hook_iterate`."""

    compute_argument = "steps"
    default_compute = 1

    def __init__(self, steps: int) -> None:
        super().__init__()
        check(steps >= 0, "steps", f"must be non-negative, got {steps}", "0, 1, ...")
        self.steps = int(steps)
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
        s, b = _statistics(x, y)
        w = torch.zeros_like(b)  # float64
        residual = b.clone()  # b - S w
        direction = residual.clone()
        for k in range(count):
            curvature = torch.einsum("bd,bde,be->b", direction, s, direction)
            rr = (residual * residual).sum(-1)
            alpha = torch.where(curvature > TINY, rr / curvature.clamp_min(TINY), 0.0)
            w = w + alpha[:, None] * direction
            if k < len(self.iterates):
                w = self.iterates[k].hook_iterate(w.to(x.dtype)).double()
            new_residual = b - torch.einsum("bde,be->bd", s, w)
            ratio = torch.where(rr > TINY, (new_residual * new_residual).sum(-1) / rr.clamp_min(TINY), 0.0)
            direction = new_residual + ratio[:, None] * direction
            residual = new_residual
        return (w * x_query.double()).sum(-1).to(x_query.dtype)
