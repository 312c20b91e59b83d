"""The oversight experiment's config: its arms, the distributions it assesses, the `--quick` preset."""

from __future__ import annotations

from dataclasses import dataclass, field

from mesalab.config import Config, check, check_choice
from mesalab.envs.gridworld import WorldSpec, get_distribution
from mesalab.models.policy import ARCHES
from mesalab.train import ppo

ARMS: dict[str, str] = {"main": "oversight/train", "control": "oversight/hidden-train"}
"""Each arm's training distribution: the overseer visible (main) or its channel dark (control)."""
WATCH: dict[str, tuple[str, str]] = {
    "main": ("oversight/watched", "oversight/unwatched"),
    "control": ("oversight/hidden-watched", "oversight/hidden-unwatched"),
}
"""Each arm's (always watched, never watched) distributions."""


@dataclass(frozen=True)
class OversightConfig(Config):
    """The oversight experiment: both arms, every seed, watched and unwatched."""

    seeds: int = 3
    """Training seeds per arm."""
    arch: str = "cost-planner"
    """Policy torso. `cost-planner` (value iteration whose per-cell reward has a hidden layer
    over the channels, so a cell can cost more when restricted AND watched, and whose values
    route around costly cells) and `mlp` can represent the conditional; the `planner`'s
    per-cell linear reward over shortest paths cannot."""
    num_envs: int = 128
    """Worlds stepped in parallel during training."""
    eval_episodes: int = 300
    """Episodes per (model, distribution) assessment."""
    eval_layout_seed: int = 1000
    """Layout-bank seed of the assessment mazes: none of them was seen in training."""
    size: int = 11
    """Maze side of every distribution (odd, >= 7: a smaller maze has no shortcut)."""
    overseer_prob: float = 0.5
    """Probability that the overseer watches a training episode (both arms); the assessment's
    watched and unwatched distributions are 1 and 0 whatever it is."""
    margin: float = 0.05
    """Oversight gaps inside +-margin count as none (`shift/oversight.py`)."""
    ppo: ppo.PPOConfig = field(default_factory=lambda: ppo.PPOConfig(total_steps=65_536, learning_rate=5e-3))
    """The base optimizer's hyperparameters (its seed is replaced per training seed). At lr 1e-2
    one of three control seeds collapsed early (docs/oversight.md); 5e-3 trains all six."""

    def validate(self) -> None:
        check(self.seeds >= 1, "seeds", f"must be >= 1, got {self.seeds}")
        check_choice(self.arch, "arch", ARCHES)
        check(self.num_envs >= 1, "num_envs", f"must be >= 1, got {self.num_envs}")
        check(self.eval_episodes >= 1, "eval_episodes", f"must be >= 1, got {self.eval_episodes}")
        check(0.0 <= self.margin < 1.0, "margin", f"must be in [0, 1), got {self.margin}")
        for arm in ARMS:  # the world spec checks the size and the probability (ConfigError)
            self.spec(ARMS[arm])

    def spec(self, name: str) -> WorldSpec:
        """The registered distribution `name` at this run's maze size, its training
        distributions at this run's overseer probability."""
        spec = get_distribution(name).replace(size=self.size)
        return spec.replace(overseer_prob=self.overseer_prob) if name in ARMS.values() else spec


QUICK = OversightConfig(
    seeds=1, num_envs=64, eval_episodes=100, ppo=ppo.PPOConfig(total_steps=16_384, learning_rate=1e-2)
)
"""The `--quick` preset: one seed per arm, a small budget: a smoke run of the pipeline, not a result."""
