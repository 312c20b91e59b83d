"""The built-in sweep experiment `tiny` (for tests and demos of the sweep machinery).

`tiny` is a fast deterministic computation that can be told to fail (`fail_when_x`) or
to take a while (`sleep_s`); it appends to `attempts.log` in its trial folder so tests
can count how often each trial started and finished. The flagships' trials
(`red-door-arm`, the emergence trials) register themselves from `mesalab.experiments`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mesalab.config import Config, check
from mesalab.seeding import generator
from mesalab.sweep.experiment import SweepExperiment, register_sweep_experiment
from mesalab.sweep.space import FloatParam, SearchSpace, register_search_space


@dataclass(frozen=True)
class TinyConfig(Config):
    """A trial that takes milliseconds: `score = (x - 0.5)^2 + noise(seed)`."""

    seed: int = 0
    """Seed of the noise (replaced per trial by the sweep)."""
    x: float = 0.0
    """The input the score depends on."""
    noise: float = 0.01
    """Standard deviation of the seeded noise added to the score."""
    sleep_s: float = 0.0
    """Seconds the trial waits before returning (to make trials overlap in tests)."""
    fail_when_x: float | None = None
    """The trial raises `RuntimeError` when `x` equals this value."""

    def validate(self) -> None:
        check(self.noise >= 0, "noise", f"must be >= 0, got {self.noise}")
        check(self.sleep_s >= 0, "sleep_s", f"must be >= 0, got {self.sleep_s}")


def run_tiny(cfg: Config, trial_dir: Path) -> dict[str, Any]:
    """Log the attempt, compute the score, fail when asked to."""
    assert isinstance(cfg, TinyConfig)
    log = trial_dir / "attempts.log"
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"start {os.getpid()}\n")
    if cfg.sleep_s:
        time.sleep(cfg.sleep_s)
    if cfg.fail_when_x is not None and cfg.x == cfg.fail_when_x:
        raise RuntimeError(f"tiny: told to fail at x = {cfg.x}")
    draws = torch.randn(64, generator=generator(cfg.seed, "tiny"))  # (64,)
    noise = float(draws.mean()) * cfg.noise * 8.0  # mean of 64 standard normals has sd 1/8
    score = (cfg.x - 0.5) ** 2 + noise
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"finish {os.getpid()}\n")
    return {"score": score, "noise": noise, "x": cfg.x}


register_sweep_experiment(
    SweepExperiment(
        name="tiny",
        config=TinyConfig(),
        run=run_tiny,
        description="a deterministic toy trial (milliseconds) for tests: score = (x - 0.5)^2 + noise",
        metrics=("score",),
    )
)


# ---- what `mesalab tune` varies -------------------------------------------------------------------

register_search_space(
    "tiny", SearchSpace((FloatParam("x", -2.0, 2.0),), objective="score", direction="minimize")
)
