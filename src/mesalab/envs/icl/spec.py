"""The in-context regression task spec: one frozen config whose variants are the distributions.

A sequence holds `n_context` pairs `(x_i, y_i)` with `y_i = w . x_i + noise * eps_i` and one
query `x` whose target `y = w . x + noise * eps` the model must predict from the context.
"""

from __future__ import annotations

from dataclasses import dataclass

from mesalab.config import Config, check, check_choice

X_DISTS: tuple[str, ...] = ("uniform", "gaussian")
"""Input distributions: uniform in [-x_scale, x_scale]^dim, or N(0, x_scale^2 I)."""


@dataclass(frozen=True)
class TaskSpec(Config):
    """A distribution of linear-regression tasks presented in context.

    Example: `TaskSpec(dim=10, n_context=10)` is `icl/train`: w ~ N(0, I_10), ten inputs
    uniform in [-1, 1]^10, noiseless targets. Token layout (see `sampler.tokens`): context
    token i is `(x_i, y_i)` in R^(dim+1), the last token is the query `(x, 0)`.
    """

    dim: int = 10
    """Input dimension d."""
    n_context: int = 10
    """Context pairs N before the query."""
    x_dist: str = "uniform"
    """Input distribution: `uniform` in [-x_scale, x_scale] per coordinate or `gaussian` N(0, x_scale^2)."""
    x_scale: float = 1.0
    """Scale of the inputs (half-width for uniform, standard deviation for gaussian)."""
    w_scale: float = 1.0
    """Standard deviation of each weight: w ~ N(0, w_scale^2 I)."""
    noise: float = 0.0
    """Standard deviation of the Gaussian noise added to every target, the query's included."""
    pool_size: int | None = None
    """Finite task pool M: w is drawn uniformly from M fixed vectors; None draws a fresh w per sequence."""
    pool_seed: int = 0
    """Seed of the finite task pool (ignored without `pool_size`)."""

    def validate(self) -> None:
        check(self.dim >= 1, "dim", f"must be >= 1, got {self.dim}")
        check(self.n_context >= 1, "n_context", f"must be >= 1, got {self.n_context}")
        check_choice(self.x_dist, "x_dist", X_DISTS)
        check(self.x_scale > 0, "x_scale", f"must be positive, got {self.x_scale}")
        check(self.w_scale > 0, "w_scale", f"must be positive, got {self.w_scale}")
        check(self.noise >= 0, "noise", f"must be >= 0, got {self.noise}")
        check(
            self.pool_size is None or self.pool_size >= 1, "pool_size", f"must be >= 1, got {self.pool_size}"
        )

    @property
    def token_dim(self) -> int:
        """Width of a token: the input and its target, dim + 1."""
        return self.dim + 1
