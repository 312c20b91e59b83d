"""Bayes-optimal estimators for in-context regression with Gaussian noise.

Two priors over the task weights `w`, two posterior means (the estimators that minimise
the expected query error under squared loss, Raventós et al. 2023):

- Gaussian prior `w ~ N(0, s^2 I)`: the posterior mean is ridge regression with strength
  `lam = noise^2 / s^2` (`gaussian_posterior_mean`).
- A finite pool of M tasks, each equally likely (the "dMMSE" estimator of Raventós et al.):
  `p(m | context) ∝ exp(-sum_i (y_i - w_m . x_i)^2 / (2 noise^2))`, and the estimate is
  `sum_m p(m | context) w_m` (`pool_posterior_mean`).

A model that has memorised its pretraining pool behaves like the second on unseen tasks;
one that learned to regress in context behaves like the first.
"""

from __future__ import annotations

import torch

from mesalab.models.reference.gd import ridge


def gaussian_posterior_mean(
    x: torch.Tensor, y: torch.Tensor, noise: float, w_scale: float = 1.0
) -> torch.Tensor:
    """Posterior mean of w under `N(0, w_scale^2 I)` from context (B, N, d), (B, N): (B, d)."""
    if noise <= 0:
        raise ValueError("the Gaussian posterior mean needs noise > 0 (use least squares without noise)")
    return ridge(x, y, (noise / w_scale) ** 2)


def pool_log_posterior(x: torch.Tensor, y: torch.Tensor, pool: torch.Tensor, noise: float) -> torch.Tensor:
    """Log posterior over the pool tasks given each context, (B, M); rows sum to 1 in exp.

    Squared residuals expand as `|y|^2 - 2 w.(X^T y) + w^T (X^T X) w`, so the (B, M, N)
    residual tensor is never formed; computed in float64.
    """
    if noise <= 0:
        raise ValueError("the pool posterior needs noise > 0")
    xd, yd, wd = x.double(), y.double(), pool.double().to(x.device)
    gram = xd.transpose(1, 2) @ xd  # (B, d, d)
    xty = torch.einsum("bnd,bn->bd", xd, yd)  # (B, d)
    quad = torch.einsum("md,bde,me->bm", wd, gram, wd)  # (B, M): w_m^T X^T X w_m
    sq = (yd * yd).sum(1, keepdim=True) - 2 * xty @ wd.T + quad  # (B, M): sum_i (y_i - w_m.x_i)^2
    return torch.log_softmax(-sq / (2 * noise * noise), dim=1)


def pool_posterior_mean(x: torch.Tensor, y: torch.Tensor, pool: torch.Tensor, noise: float) -> torch.Tensor:
    """Posterior-mean weights over the pool (M, d) given context (B, N, d), (B, N): (B, d)."""
    post = pool_log_posterior(x, y, pool, noise).exp()  # (B, M)
    return (post @ pool.double().to(x.device)).to(x.dtype)
