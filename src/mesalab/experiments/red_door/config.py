"""The red-door experiment's config: its arms, the shifts it assesses, the `--quick` preset."""

from __future__ import annotations

from dataclasses import dataclass, field

from mesalab.config import Config, check, check_choice
from mesalab.envs.gridworld.spec import OBS_MODES
from mesalab.experiments.red_door.recurrent import RecurrentArmConfig
from mesalab.models.policy import ARCHES
from mesalab.shift import VerdictConfig
from mesalab.train import ppo

ARMS: dict[str, str] = {"narrow": "red-door/train", "diverse": "red-door/diverse"}
"""Each arm's training distribution."""
SHIFTS: tuple[str, ...] = ("red-door/deploy", "red-door/blue-exit", "red-door/red-objects")
"""Deployment distributions every model is assessed on."""
RED_DOOR_ARCHES: tuple[str, ...] = (*ARCHES, "recurrent")
"""Policy torsos: the actor-critic's (`models.policy.ARCHES`) and the generic recurrent maze net."""


@dataclass(frozen=True)
class RedDoorConfig(Config):
    """The red-door experiment: both arms, every seed, every shift."""

    ADDED_FIELDS = ("recurrent",)
    """Left out of the hash at their defaults (`Config.ADDED_FIELDS`): older runs keep theirs."""

    seeds: int = 3
    """Training seeds per arm."""
    obs_mode: str = "symbolic"
    """Observation mode of world and policy: `symbolic` or `pixels`."""
    arch: str = "planner"
    """Policy torso: `planner`, `mlp`, `cost-planner` (`mesalab.models.policy`, PPO) or `recurrent`
    (the generic recurrent maze net acting at the agent's cell; its base optimizer in `recurrent`)."""
    num_envs: int = 128
    """Worlds stepped in parallel during training."""
    eval_episodes: int = 300
    """Episodes per (model, distribution) assessment."""
    eval_layout_seed: int = 1000
    """Layout-bank seed of the assessment mazes: none of them was seen in training."""
    ppo: ppo.PPOConfig = field(default_factory=ppo.PPOConfig)
    """The base optimizer's hyperparameters (its seed is replaced per training seed)."""
    verdict: VerdictConfig = field(default_factory=VerdictConfig)
    """Thresholds of the alignment verdict."""
    recurrent: RecurrentArmConfig = field(default_factory=RecurrentArmConfig)
    """`arch=recurrent` only: the net, its base optimizer (`bc` or `ppo`, which uses `ppo`), its T."""

    def validate(self) -> None:
        check(self.seeds >= 1, "seeds", f"must be >= 1, got {self.seeds}")
        check_choice(self.obs_mode, "obs_mode", OBS_MODES)
        check_choice(self.arch, "arch", RED_DOOR_ARCHES)
        check(self.num_envs >= 1, "num_envs", f"must be >= 1, got {self.num_envs}")
        check(self.eval_episodes >= 1, "eval_episodes", f"must be >= 1, got {self.eval_episodes}")
        if self.arch == "recurrent":
            check(
                self.obs_mode == "symbolic", "obs_mode", "the recurrent net reads symbolic mazes", "symbolic"
            )


QUICK = RedDoorConfig(seeds=1, eval_episodes=150, ppo=ppo.PPOConfig(total_steps=110_000))
"""The `--quick` preset: one seed per arm, a smaller budget."""
