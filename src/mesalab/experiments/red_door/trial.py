"""`red-door-arm`: one arm of the red-door experiment as a sweep trial, with its tune space.

Trains one arm with PPO (the `--quick` budget, resuming from a checkpoint in the trial
folder) and assesses it on its training distribution and every shift, as `run` does.
Registers itself with the sweep registry when imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mesalab.config import Config, check, check_choice
from mesalab.experiments.red_door.config import ARMS, RedDoorConfig
from mesalab.experiments.red_door.run import assess_model, train_arm
from mesalab.shift import VerdictConfig
from mesalab.sweep.experiment import SweepExperiment, register_sweep_experiment
from mesalab.sweep.space import ChoiceParam, FloatParam, SearchSpace, register_search_space
from mesalab.train import ppo

TRIAL_NAME = "red-door-arm"
"""Name of the trial in the sweep registry."""


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
        check_choice(self.arm, "arm", ARMS)
        check(self.num_envs >= 1, "num_envs", f"must be >= 1, got {self.num_envs}")
        check(self.eval_episodes >= 1, "eval_episodes", f"must be >= 1, got {self.eval_episodes}")


def run_red_door_arm(cfg: Config, trial_dir: Path) -> dict[str, Any]:
    """Train the arm (resuming from a checkpoint in `trial_dir`), assess it, flatten the results."""
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
        name=TRIAL_NAME,
        config=RedDoorArmConfig(),
        run=run_red_door_arm,
        description="train one red-door arm with PPO (quick budget) and assess it on every shift",
        metrics=("train_success", "deploy_success", "blue-exit_success", "red-objects_success"),
    )
)
register_search_space(  # what `mesalab tune red-door-arm` varies
    TRIAL_NAME,
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
