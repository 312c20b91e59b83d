"""One PPO training of a red-door policy, shared by both red-door flagships and the arm trial.

The world is built by the caller (a `GridWorld` for the red-door arms, a `MixtureWorld` for
emergence-red-door) and so are the seed paths: `path(kind)` names the path below `seed`
for the initial weights (`kind="init"`) and PPO (`kind="ppo"`), so each flagship keeps
the seeds, and so the numbers, it always had.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from mesalab.envs.gridworld import GridWorld
from mesalab.models.policy import ActorCritic, PolicyConfig
from mesalab.seeding import derive_seed31, seeded_init
from mesalab.store import MetricsLogger
from mesalab.train import ppo


@dataclass(frozen=True)
class TrainingFiles:
    """Where one training writes: metrics, optional TensorBoard, its resumable checkpoint."""

    metrics: Path
    """The `metrics.jsonl` its PPO metrics are appended to."""
    checkpoint_dir: Path
    """PPO's checkpoint folder: training resumes from it when it holds one."""
    tensorboard_dir: Path | None = None
    """This model's TensorBoard run folder (`tensorboard/{arm}-seed{s}`), or None for none."""
    tag: str = ""
    """The model's name in `metrics.jsonl` rows (e.g. `narrow/seed0`), or none."""


def train_policy(
    policy_cfg: PolicyConfig,
    make_world: Callable[[], GridWorld],
    ppo_cfg: ppo.PPOConfig,
    seed: int,
    path: Callable[[str], tuple[object, ...]],
    files: TrainingFiles,
    device: torch.device | str = "cpu",
    progress: bool = False,
    description: str = "",
) -> ActorCritic:
    """Initialise a policy from `(seed, *path("init"))`, build the world, train it with PPO
    seeded from `(seed, *path("ppo"))` (resuming from a checkpoint), return the policy."""
    with seeded_init(seed, *path("init")):  # nn.Linear's initialisers take no generator
        policy = ActorCritic(policy_cfg).to(device)
    world = make_world()
    train_cfg = ppo_cfg.replace(seed=derive_seed31(seed, *path("ppo")))
    with MetricsLogger(files.metrics, tensorboard_dir=files.tensorboard_dir, tag=files.tag) as log:
        ppo.train(
            train_cfg,
            world,
            policy,
            log,
            checkpoint_dir=files.checkpoint_dir,
            resume=True,
            progress=progress,
            description=description,
        )
    return policy
