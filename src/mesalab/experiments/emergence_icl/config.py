"""emergence-icl's configs: one trial, the whole sweep, and their `--quick` presets."""

from __future__ import annotations

from dataclasses import dataclass

from mesalab.config import Config, check
from mesalab.envs.icl.spec import TaskSpec
from mesalab.seeding import derive_seed31

TRIAL_NAME = "emergence-icl-trial"
"""Name of the trial in the sweep registry."""


@dataclass(frozen=True)
class EmergenceIclTrialConfig(Config):
    """One model trained on a pool of M regression tasks and measured against both Bayes estimators."""

    seed: int = 0
    """Seed of the pool, the initial weights, the training batches and the evaluation batches."""
    pool_size: int | None = None
    """Pretraining task pool M; None draws a fresh task for every sequence (M = inf)."""
    dim: int = 5
    """Input dimension d."""
    n_context: int = 10
    """Context pairs N per sequence."""
    noise: float = 0.5
    """Standard deviation of the target noise (> 0: the pool posterior needs it)."""
    steps: int = 2000
    """Training steps (Adam, cosine-decayed)."""
    batch_size: int = 256
    """Sequences per training step."""
    lr: float = 1e-3
    """Initial Adam learning rate."""
    d_model: int = 32
    """Residual width of the transformer (MLP width 4x, 4 heads)."""
    n_layers: int = 2
    """Transformer blocks."""
    eval_every: int = 250
    """Steps between the small evaluations logged to `metrics.jsonl`."""
    eval_batch_size: int = 4096
    """Sequences per final evaluation batch (one of unseen tasks, one of pool tasks)."""

    def validate(self) -> None:
        check(
            self.pool_size is None or self.pool_size >= 1,
            "pool_size",
            f"must be >= 1 or None (infinite), got {self.pool_size}",
        )
        check(self.dim >= 1, "dim", f"must be >= 1, got {self.dim}")
        check(self.n_context >= 1, "n_context", f"must be >= 1, got {self.n_context}")
        check(self.noise > 0, "noise", f"must be > 0 (the pool posterior needs noise), got {self.noise}")
        for name in ("steps", "batch_size", "eval_every", "eval_batch_size", "n_layers"):
            check(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        check(self.lr > 0, "lr", f"must be positive, got {self.lr}")
        check(
            self.d_model >= 4 and self.d_model % 4 == 0,
            "d_model",
            f"must be a multiple of 4, got {self.d_model}",
        )

    def task(self) -> TaskSpec:
        """The pretraining distribution: N(0, I) weights, from the pool when M is finite."""
        return TaskSpec(
            dim=self.dim,
            n_context=self.n_context,
            noise=self.noise,
            pool_size=self.pool_size,
            pool_seed=derive_seed31(self.seed, "emergence-icl", "pool"),
        )


DEFAULT_TRIAL = EmergenceIclTrialConfig()
"""The default trial: d = 5, N = 10, noise 0.5, a 32-wide 2-block transformer, 2000 steps."""
QUICK_TRIAL = DEFAULT_TRIAL.replace(steps=600, eval_every=200, eval_batch_size=2048)
"""The `--quick` trial: 600 steps."""
DEFAULT_POOL_SIZES: tuple[int | None, ...] = (1, 4, 16, 64, 256, 1024, None)
"""M from 1 to effectively infinite (None)."""
QUICK_POOL_SIZES: tuple[int | None, ...] = (1, 16, None)


@dataclass(frozen=True)
class EmergenceIclConfig(Config):
    """The whole experiment: which pool sizes, how many seeds, and the trial at each."""

    pool_sizes: tuple[int | None, ...] = DEFAULT_POOL_SIZES
    """Pretraining pool sizes M swept; None is M = inf (a fresh task per sequence)."""
    seeds: int = 2
    """Seeds per pool size (each seed draws its own pool)."""
    trial: EmergenceIclTrialConfig = DEFAULT_TRIAL
    """The trial run at each (M, seed); its `pool_size` and `seed` are replaced."""

    def validate(self) -> None:
        check(len(self.pool_sizes) >= 1, "pool_sizes", "must name at least one pool size")
        for m in self.pool_sizes:
            check(m is None or m >= 1, "pool_sizes", f"each must be >= 1 or None, got {m}")
        check(len(set(self.pool_sizes)) == len(self.pool_sizes), "pool_sizes", "must not repeat a value")
        check(self.seeds >= 1, "seeds", f"must be >= 1, got {self.seeds}")


QUICK = EmergenceIclConfig(pool_sizes=QUICK_POOL_SIZES, seeds=1, trial=QUICK_TRIAL)
"""The `--quick` preset: M in {1, 16, inf}, one seed, 600 steps (a demo, not a finding)."""


def label(pool_size: int | None) -> str:
    return "inf" if pool_size is None else str(pool_size)
