"""The best one-step GD predictor of in-context regression, exactly and by Monte Carlo.

Setting (`mesalab.envs.icl`): a sequence has N context pairs and one query, inputs with
i.i.d. zero-mean coordinates (uniform in [-a, a] or N(0, a^2)), targets
`y = w . x + sigma eps` with `w ~ N(0, s^2 I_d)` (or drawn from a finite pool) and
`eps ~ N(0, 1)`, the query's target included. One GD step from w_0 = 0 on the in-context
loss `L(w) = 1/(2N) sum_i (w . x_i - y_i)^2` gives `w_1 = (eta/N) sum_i y_i x_i`, so the
prediction is `eta u` with `u = x_q . (1/N) sum_i y_i x_i` (`gd.GradientDescent`,
`gd.fit_eta_one_step`).

Loss convention: the query loss is the MSE `E (eta u - y_q)^2`, as the icl-gd experiment
reports it (`icl/train` training and test losses, `envs.icl.compare.query_loss`); the
in-context loss `L(w)` carries a factor 1/2. Everything here is MSE.

Closed form (derivation in docs/icl-exact.md). With `m2 = E x^2`, `m4 = E x^4` per
coordinate (uniform: a^2/3, a^4/5; Gaussian: a^2, 3 a^4) and `q = E|w|^2` (`d s^2`, or
the pool's mean squared norm), `MSE(eta) = A eta^2 - 2 B eta + C` with

    A = E u^2     = m2 (q (m4 + (d + N - 2) m2^2) / N + sigma^2 d m2 / N)
    B = E u y_q   = q m2^2
    C = E y_q^2   = q m2 + sigma^2

so `eta* = B / A` and `MSE* = C - B^2 / A`. It holds for every registered icl distribution:
input scale, input law, weight scale, noise, context length (N < d included) and finite
pools (exact given the pool). K >= 2 GD steps, least squares and ridge have no closed form
here (K steps need moments of S up to order 2K; least squares with N = d uniform inputs
needs E of an inverse Gram matrix): those references stay Monte-Carlo estimates.

`monte_carlo_one_step` draws sequences with the project's sampler, in chunks, and keeps
only running sums of products of u and y_q up to order four, from which it gives the MSE at
any eta and the fitted eta, each with its standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from mesalab.config import check
from mesalab.envs.icl.sampler import sample, task_pool
from mesalab.envs.icl.spec import TaskSpec
from mesalab.seeding import generator


@dataclass(frozen=True)
class OneStepReference:
    """The one-step GD query MSE as a quadratic in eta, and its minimum."""

    a: float
    """E u^2: the coefficient of eta^2."""
    b: float
    """E u y_q: MSE(eta) = a eta^2 - 2 b eta + c."""
    c: float
    """E y_q^2: the MSE of predicting 0."""

    @property
    def eta(self) -> float:
        """The step size of the best one-step GD predictor, b / a."""
        return self.b / self.a

    @property
    def loss(self) -> float:
        """Its query MSE, c - b^2 / a."""
        return self.c - self.b * self.b / self.a

    def mse(self, eta: float) -> float:
        """The query MSE of one GD step of size eta."""
        return self.a * eta * eta - 2 * self.b * eta + self.c


def input_moments(spec: TaskSpec) -> tuple[float, float]:
    """`(E x^2, E x^4)` of one input coordinate."""
    scale = spec.x_scale
    if spec.x_dist == "uniform":
        return scale**2 / 3, scale**4 / 5
    return scale**2, 3 * scale**4


def weight_norm2(spec: TaskSpec) -> float:
    """`E |w|^2`: `d s^2`, or the mean squared norm of the finite pool's vectors."""
    if spec.pool_size is None:
        return spec.dim * spec.w_scale**2
    return float(task_pool(spec).double().pow(2).sum(1).mean())


def one_step_reference(spec: TaskSpec) -> OneStepReference:
    """The exact quadratic `MSE(eta)` of one GD step for `spec` (module docstring)."""
    m2, m4 = input_moments(spec)
    d, n, q, noise2 = spec.dim, spec.n_context, weight_norm2(spec), spec.noise**2
    tr_s2 = d * (m4 + (d + n - 2) * m2 * m2) / n  # E tr(S^2), S = (1/N) sum_i x_i x_i^T
    a = m2 * (q * tr_s2 / d + noise2 * d * m2 / n)
    return OneStepReference(a=a, b=q * m2 * m2, c=q * m2 + noise2)


@dataclass(frozen=True)
class MonteCarloOneStep:
    """Sums over sampled sequences of the products of u and y_q up to order four (float64)."""

    count: int
    """Sequences drawn."""
    sums: tuple[float, ...]
    """Sums of u^i y_q^j for (i, j) in `POWERS`."""

    POWERS = ((2, 0), (1, 1), (0, 2), (4, 0), (3, 1), (2, 2), (1, 3), (0, 4))

    def _mean(self, i: int, j: int) -> float:
        return self.sums[self.POWERS.index((i, j))] / self.count

    def mse(self, eta: float) -> tuple[float, float]:
        """The sample mean of `(eta u - y_q)^2` and its standard error."""
        mean = eta**2 * self._mean(2, 0) - 2 * eta * self._mean(1, 1) + self._mean(0, 2)
        second = (
            eta**4 * self._mean(4, 0)
            - 4 * eta**3 * self._mean(3, 1)
            + 6 * eta**2 * self._mean(2, 2)
            - 4 * eta * self._mean(1, 3)
            + self._mean(0, 4)
        )
        variance = max(second - mean * mean, 0.0) * self.count / (self.count - 1)
        return mean, math.sqrt(variance / self.count)

    def eta(self) -> tuple[float, float]:
        """The fitted step `sum u y_q / sum u^2` and its standard error (delta method)."""
        a, b = self._mean(2, 0), self._mean(1, 1)
        eta = b / a
        # eta_hat - eta* ~ mean(u y - eta* u^2) / a
        second = self._mean(2, 2) - 2 * eta * self._mean(3, 1) + eta * eta * self._mean(4, 0)
        variance = max(second - (b - eta * a) ** 2, 0.0) * self.count / (self.count - 1)
        return eta, math.sqrt(variance / self.count) / a


def monte_carlo_one_step(
    spec: TaskSpec, sequences: int = 100_000, seed: int = 0, chunk: int = 16_384
) -> MonteCarloOneStep:
    """Draw `sequences` sequences of `spec` in chunks and keep the sums `MonteCarloOneStep` needs.

    Memory stays at one chunk, `(chunk, N + 1, d)` inputs; draws come from `(seed, "gd-exact")`.
    """
    check(sequences >= 2, "sequences", f"must be at least 2, got {sequences}")
    check(chunk >= 1, "chunk", f"must be positive, got {chunk}")
    gen = generator(seed, "gd-exact")
    sums = [0.0] * len(MonteCarloOneStep.POWERS)
    left = sequences
    while left > 0:
        batch = sample(spec, min(chunk, left), gen)
        x, y, xq, yq = batch.x.double(), batch.y.double(), batch.x_query.double(), batch.y_query.double()
        u = torch.einsum("bn,bnd,bd->b", y, x, xq) / x.shape[1]
        for k, (i, j) in enumerate(MonteCarloOneStep.POWERS):
            sums[k] += float((u**i * yq**j).sum())
        left -= x.shape[0]
    return MonteCarloOneStep(count=sequences, sums=tuple(sums))
