"""icl-gd's config: the task, the shifts, the three models' training budgets, the `--quick` preset."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mesalab.config import Config, check
from mesalab.envs.icl.distributions import TASKS
from mesalab.envs.icl.spec import TaskSpec

DEFAULT_SHIFTS: tuple[str, ...] = tuple(n for n in TASKS.names() if n != "icl/train")


@dataclass(frozen=True)
class IclGdConfig(Config):
    """Everything that determines an icl-gd run (the device and thread count do not)."""

    task: TaskSpec = dataclasses.field(default_factory=TaskSpec)
    """Training distribution (`icl/train` by default); shifts change it in their named fields."""
    shifts: tuple[str, ...] = DEFAULT_SHIFTS
    """Registered `icl/...` distributions to evaluate on, as changes relative to `icl/train`."""
    seed: int = 0
    """Root seed: every batch and initialisation derives from it."""
    lsa1_steps: int = 2000
    """Training steps of the 1-layer LSA."""
    lsa3_steps: int = 6000
    """Training steps of the 3-layer LSA."""
    softmax_steps: int = 3000
    """Training steps of the softmax transformer."""
    lsa_batch_size: int = 2048
    """Sequences per step for the LSA models."""
    lsa1_lr: float = 3e-3
    """Adam learning rate of the 1-layer LSA (cosine-decayed)."""
    lsa3_lr: float = 1e-3
    """Adam learning rate of the 3-layer LSA: 3e-3 and above measured to spike and not recover."""
    lsa_init_scale: float = 0.01
    """Initial weight scale of the LSA models: small, but off the saddle at zero."""
    softmax_batch_size: int = 256
    """Sequences per step for the softmax transformer."""
    softmax_lr: float = 1e-3
    """Adam learning rate of the softmax transformer (cosine-decayed)."""
    softmax_d_model: int = 64
    """Residual width of the softmax transformer."""
    final_lr_fraction: float = 0.05
    """Learning rate at the end of the cosine schedule, as a fraction of the initial one."""
    grad_clip: float = 1.0
    """Largest gradient norm per step (all models)."""
    eval_every: int = 100
    """Steps between evaluations during training."""
    eval_batch_size: int = 4096
    """Sequences per evaluation batch (one per distribution)."""
    fit_batch_size: int = 16384
    """Sequences used to fit eta, the ridge strength and the layer probes."""

    def validate(self) -> None:
        for name in ("lsa1_steps", "lsa3_steps", "softmax_steps"):
            check(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        for name in (
            "lsa_batch_size",
            "softmax_batch_size",
            "eval_every",
            "eval_batch_size",
            "fit_batch_size",
        ):
            check(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        check(self.grad_clip > 0, "grad_clip", f"must be positive, got {self.grad_clip}")
        for name in ("lsa1_lr", "lsa3_lr", "softmax_lr"):
            check(getattr(self, name) > 0, name, f"must be positive, got {getattr(self, name)}")
        check(
            0 <= self.final_lr_fraction <= 1,
            "final_lr_fraction",
            f"must be in [0, 1], got {self.final_lr_fraction}",
        )
        for name in self.shifts:
            check(name in TASKS, "shifts", f"unknown distribution {name!r}", ", ".join(TASKS.names()))


QUICK = IclGdConfig(
    lsa1_steps=1000,
    lsa3_steps=1500,
    softmax_steps=300,
    eval_every=100,
    eval_batch_size=2048,
    fit_batch_size=8192,
)
"""The `--quick` preset: under a minute on 2 cores, same models and comparisons."""


def with_steps(cfg: IclGdConfig, steps: int) -> IclGdConfig:
    """`cfg` with every model trained for `steps` steps (for smoke tests)."""
    every = max(1, min(cfg.eval_every, steps))
    return cfg.replace(lsa1_steps=steps, lsa3_steps=steps, softmax_steps=steps, eval_every=every)
