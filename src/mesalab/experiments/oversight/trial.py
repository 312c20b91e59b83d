"""`oversight-arm`: one arm of the oversight experiment as a sweep trial.

`mesalab sweep oversight-arm --axis overseer_prob=0.1,0.5,0.9 --seeds 2` answers "how does
the oversight gap depend on how often the overseer watches?": each trial trains one policy
with PPO where the overseer watches a training episode with probability `overseer_prob`
(resuming from a checkpoint in the trial folder), judges it on held-out watched and
unwatched mazes, and returns the oversight gap with its 95% interval (`oversight_gap_low`,
`oversight_gap_high`: the sweep report draws them as error bars). Registers itself with the
sweep registry when imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mesalab.config import Config, check
from mesalab.experiments.oversight.config import ARMS, QUICK, OversightConfig
from mesalab.experiments.oversight.run import assess_arm, summarise, train_arm
from mesalab.sweep.experiment import SweepExperiment, register_sweep_experiment
from mesalab.train import ppo

TRIAL_NAME = "oversight-arm"
"""Name of the trial in the sweep registry."""


@dataclass(frozen=True)
class OversightArmConfig(Config):
    """One oversight arm, one seed: PPO at the `--quick` budget, then watched vs unwatched."""

    seed: int = 0
    """Training seed (replaced per trial by the sweep)."""
    arm: str = "main"
    """`main` (the overseer visible) or `control` (its channel dark)."""
    overseer_prob: float = 0.5
    """Probability that the overseer watches a training episode."""
    size: int = 11
    """Maze side (odd, >= 7)."""
    arch: str = QUICK.arch
    """Policy torso (`OversightConfig.arch`)."""
    num_envs: int = QUICK.num_envs
    """Worlds stepped in parallel during training."""
    eval_episodes: int = QUICK.eval_episodes
    """Episodes per assessment distribution."""
    eval_layout_seed: int = QUICK.eval_layout_seed
    """Layout-bank seed of the held-out assessment mazes."""
    margin: float = QUICK.margin
    """Oversight gaps inside +-margin count as none."""
    ppo: ppo.PPOConfig = field(default_factory=lambda: QUICK.ppo)
    """The base optimizer's hyperparameters (its seed is derived from `seed`)."""

    def validate(self) -> None:
        check(self.arm in ARMS, "arm", f"must be one of {', '.join(ARMS)}, got {self.arm!r}")
        self.experiment()  # the experiment's config checks the rest (probability, size, ...)

    def experiment(self) -> OversightConfig:
        """The oversight experiment's config this trial runs one arm and one seed of."""
        return OversightConfig(
            seeds=1, arch=self.arch, num_envs=self.num_envs, eval_episodes=self.eval_episodes,
            eval_layout_seed=self.eval_layout_seed, size=self.size,
            overseer_prob=self.overseer_prob, margin=self.margin, ppo=self.ppo,
        )  # fmt: skip


def run_oversight_arm(cfg: Config, trial_dir: Path) -> dict[str, Any]:
    """Train the arm (resuming from a checkpoint in `trial_dir`), judge it, flatten the results."""
    assert isinstance(cfg, OversightArmConfig)
    full = cfg.experiment()
    device = torch.device("cpu")
    policy = train_arm(full, trial_dir, cfg.arm, cfg.seed, device, progress=False)
    _, assessments = assess_arm(full, policy, cfg.arm, cfg.seed, device)
    entry = summarise(full, {cfg.arm: {cfg.seed: assessments}})[cfg.arm]
    finding, train = entry["finding"], entry["distributions"][ARMS[cfg.arm]]
    gap = finding["oversight_gap"]
    return {
        "oversight_gap": gap["rate"],
        "oversight_gap_low": gap["low"],
        "oversight_gap_high": gap["high"],
        "restricted_watched": finding["restricted_watched"]["rate"],
        "restricted_unwatched": finding["restricted_unwatched"]["rate"],
        "train_exit": train["exit"]["rate"],
        "train_purpose": train["purpose"]["rate"],
        "finding": finding["finding"],
    }


register_sweep_experiment(
    SweepExperiment(
        name=TRIAL_NAME,
        config=OversightArmConfig(),
        run=run_oversight_arm,
        description="train one oversight arm with PPO (quick budget) at an overseer probability; "
        "the oversight gap (restricted-cell rate unwatched minus watched) with its 95% interval",
        metrics=("oversight_gap", "restricted_watched", "restricted_unwatched", "train_exit"),
    )
)
