"""emergence-red-door's configs: one trial, the whole sweep, and their `--quick` presets."""

from __future__ import annotations

from dataclasses import dataclass, field

from mesalab.config import Config, check, check_choice
from mesalab.experiments.red_door.config import RED_DOOR_ARCHES
from mesalab.experiments.red_door.recurrent import RecurrentArmConfig
from mesalab.shift import VerdictConfig
from mesalab.train import ppo

TRIAL_NAME = "emergence-red-door-trial"
"""Name of the trial in the sweep registry."""
BASE, ALT, DEPLOY = "red-door/train", "red-door/diverse", "red-door/deploy"
"""The mixture's components and the deployment distribution."""


@dataclass(frozen=True)
class EmergenceRedDoorTrialConfig(Config):
    """One policy trained on a train/diverse mixture and assessed on train and deploy."""

    ADDED_FIELDS = ("arch", "recurrent")
    """Left out of the hash at their defaults (`Config.ADDED_FIELDS`): older runs keep theirs."""

    seed: int = 0
    """Seed of the initial weights, the mixture's episode draws, PPO and the assessments."""
    alt_fraction: float = 0.0
    """Probability that a training episode comes from `red-door/diverse` instead of `red-door/train`."""
    num_envs: int = 128
    """Worlds stepped in parallel during training."""
    eval_episodes: int = 150
    """Held-out episodes per assessment (train and deploy)."""
    eval_layout_seed: int = 1000
    """Layout-bank seed of the assessment mazes: none of them was seen in training."""
    ppo: ppo.PPOConfig = field(default_factory=lambda: ppo.PPOConfig(total_steps=65_536))
    """The base optimizer (its seed is replaced by one derived from `seed`)."""
    verdict: VerdictConfig = field(default_factory=VerdictConfig)
    """Thresholds of the alignment verdict (also used by the behavioural definition)."""
    arch: str = "planner"
    """Policy torso: an actor-critic's (`planner`, `mlp`, `cost-planner`, by PPO) or `recurrent`."""
    recurrent: RecurrentArmConfig = field(default_factory=RecurrentArmConfig)
    """`arch=recurrent` only: the net and its base optimizer (`bc` on the mixture's mazes, or `ppo`)."""

    def validate(self) -> None:
        check_choice(self.arch, "arch", RED_DOOR_ARCHES)
        check(
            0.0 <= self.alt_fraction <= 1.0,
            "alt_fraction",
            f"must be a probability, got {self.alt_fraction}",
            "a number in [0, 1]",
        )
        check(self.num_envs >= 1, "num_envs", f"must be >= 1, got {self.num_envs}")
        check(self.eval_episodes >= 1, "eval_episodes", f"must be >= 1, got {self.eval_episodes}")


DEFAULT_TRIAL = EmergenceRedDoorTrialConfig()
"""The default trial; its PPO budget is set so 5 fractions x 8 seeds fit 30 min on 2 workers."""
QUICK_TRIAL = DEFAULT_TRIAL.replace(eval_episodes=100, ppo=ppo.PPOConfig(total_steps=49_152))
"""The `--quick` trial: 3/4 of the default budget, 100 episodes (a demo: not every policy is competent)."""
DEFAULT_FRACTIONS: tuple[float, ...] = (0.0, 0.01, 0.05, 0.2, 1.0)
"""Training diversity: the fraction of episodes drawn from `red-door/diverse`."""
QUICK_FRACTIONS: tuple[float, ...] = (0.0, 0.2, 1.0)


@dataclass(frozen=True)
class EmergenceRedDoorConfig(Config):
    """The whole experiment: which fractions, how many seeds, and the trial at each."""

    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    """Training diversity values swept (`alt_fraction` of the trial)."""
    seeds: int = 8
    """Seeds per fraction."""
    trial: EmergenceRedDoorTrialConfig = DEFAULT_TRIAL
    """The trial run at each (fraction, seed); its `alt_fraction` and `seed` are replaced."""

    def validate(self) -> None:
        check(len(self.fractions) >= 1, "fractions", "must name at least one fraction")
        for f in self.fractions:
            check(0.0 <= f <= 1.0, "fractions", f"each must be in [0, 1], got {f}")
        check(len(set(self.fractions)) == len(self.fractions), "fractions", "must not repeat a value")
        check(self.seeds >= 1, "seeds", f"must be >= 1, got {self.seeds}")


QUICK = EmergenceRedDoorConfig(fractions=QUICK_FRACTIONS, seeds=2, trial=QUICK_TRIAL)
"""The `--quick` preset: 3 fractions x 2 seeds at a small PPO budget (a demo, not a finding)."""
