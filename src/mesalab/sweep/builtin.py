"""Built-in sweep experiments: `tiny` (for tests and demos) and `red-door-arm`.

`tiny` is a fast deterministic computation that can be told to fail (`fail_when_x`) or
to take a while (`sleep_s`); it appends to `attempts.log` in its trial folder so tests
can count how often each trial started and finished. `red-door-arm` trains one arm of
the red-door experiment with PPO (the `--quick` budget) and assesses it on its training
distribution and every shift, reusing `mesalab.experiments.red_door`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mesalab.config import Config, check, check_choice
from mesalab.seeding import generator
from mesalab.shift import VerdictConfig
from mesalab.sweep.experiment import SweepExperiment, register_sweep_experiment
from mesalab.sweep.space import ChoiceParam, FloatParam, SearchSpace, register_search_space
from mesalab.train import ppo


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


@dataclass(frozen=True)
class RedDoorArmConfig(Config):
    """One red-door arm, one seed: PPO at the `--quick` budget, then every shift."""

    seed: int = 0
    """Training seed (replaced per trial by the sweep)."""
    arm: str = "narrow"
    """`narrow` (trains on red-door/train) or `diverse` (on red-door/diverse)."""
    obs_mode: str = "symbolic"
    """Observation mode of world and policy: `symbolic` or `pixels`."""
    arch: str = "planner"
    """Policy torso: `planner` or `mlp`."""
    num_envs: int = 128
    """Worlds stepped in parallel during training."""
    eval_episodes: int = 150
    """Episodes per assessment distribution."""
    eval_layout_seed: int = 1000
    """Layout-bank seed of the held-out assessment mazes."""
    ppo: ppo.PPOConfig = field(default_factory=lambda: ppo.PPOConfig(total_steps=110_000))
    """The base optimizer's hyperparameters (its seed is derived from `seed`)."""
    verdict: VerdictConfig = field(default_factory=VerdictConfig)
    """Thresholds of the alignment verdict."""

    def validate(self) -> None:
        from mesalab.experiments.red_door import ARMS

        check_choice(self.arm, "arm", ARMS)
        check(self.num_envs >= 1, "num_envs", f"must be >= 1, got {self.num_envs}")
        check(self.eval_episodes >= 1, "eval_episodes", f"must be >= 1, got {self.eval_episodes}")


def run_red_door_arm(cfg: Config, trial_dir: Path) -> dict[str, Any]:
    """Train the arm (resuming from a checkpoint in `trial_dir`), assess it, flatten the results."""
    from mesalab.experiments.red_door import ARMS, RedDoorConfig, assess_model, train_arm

    assert isinstance(cfg, RedDoorArmConfig)
    full = RedDoorConfig(
        seeds=1,
        obs_mode=cfg.obs_mode,
        arch=cfg.arch,
        num_envs=cfg.num_envs,
        eval_episodes=cfg.eval_episodes,
        eval_layout_seed=cfg.eval_layout_seed,
        ppo=cfg.ppo,
        verdict=cfg.verdict,
    )
    device = torch.device("cpu")
    policy = train_arm(full, trial_dir, cfg.arm, cfg.seed, device, progress=False)
    assessed = assess_model(full, policy, cfg.arm, cfg.seed, device)
    assessed.pop("_assessments")
    out: dict[str, Any] = {}
    for name, entry in assessed.items():
        if name.startswith("_"):
            continue
        short = "train" if name == ARMS[cfg.arm] else name.split("/")[-1]
        out[f"{short}_success"] = entry["success"]["rate"]
        out[f"{short}_inferred"] = entry["inference"]["best"]
        if "verdict" in entry:
            out[f"{short}_verdict"] = entry["verdict"]["text"]
    out["pseudo_aligned"] = int(out.get("deploy_verdict", "").startswith("pseudo-aligned"))
    return out


register_sweep_experiment(
    SweepExperiment(
        name="red-door-arm",
        config=RedDoorArmConfig(),
        run=run_red_door_arm,
        description="train one red-door arm with PPO (quick budget) and assess it on every shift",
        metrics=("train_success", "deploy_success", "blue-exit_success", "red-objects_success"),
    )
)


# ---- what `mesalab tune` varies for each ----------------------------------------------------------

register_search_space(
    "tiny", SearchSpace((FloatParam("x", -2.0, 2.0),), objective="score", direction="minimize")
)
register_search_space(
    "red-door-arm",
    SearchSpace(
        (
            FloatParam("ppo.learning_rate", 3e-3, 5e-2, log=True),
            FloatParam("ppo.ent_coef", 0.0, 0.02),
            ChoiceParam("ppo.num_steps", (16, 32, 64)),
        ),
        objective="train_success",
        direction="maximize",
    ),
)
