"""`--arch recurrent`: the generic recurrent maze net (`models/recurrent.py`) as a red-door policy.

The net computes a move map from the maze alone, once per episode, and the agent reads it at
its cell. Its base optimizer is `base_optimizer`: `bc` (default) clones the BFS oracle with
dense labels (every floor cell of every training maze labelled with its shortest-path moves,
`train/maze_supervised.py`); `ppo` trains it as an actor-critic (the value head read at the
agent's cell is the critic) with the arm's PPO config. Both red-door flagships share this:
`red-door` trains one per arm and seed, `emergence-red-door` one per trial on its mixture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mesalab.config import Config, check, check_choice
from mesalab.envs.gridworld import GridWorld, get_distribution
from mesalab.errors import MesalabError
from mesalab.experiments.red_door.training import TrainingFiles
from mesalab.models.io import load_model, read_model_meta, save_model
from mesalab.models.recurrent import RecurrentActorCritic, RecurrentConfig, RecurrentMazeNet, RecurrentPolicy
from mesalab.seeding import derive_seed31, seeded_init
from mesalab.store import MetricsLogger
from mesalab.train import maze_supervised, ppo

BASE_OPTIMIZERS = ("bc", "ppo")
KIND = "recurrent"


@dataclass(frozen=True)
class RecurrentArmConfig(Config):
    """The recurrent net as a red-door policy: its size, its base optimizer, its T."""

    model: RecurrentConfig = field(default_factory=lambda: RecurrentConfig(width=16))
    """The net (width 16 learns 11x11 red-door mazes; think-longer's default is 24)."""
    base_optimizer: str = "bc"
    """`bc`: cloning the BFS oracle with dense per-cell labels; `ppo`: PPO as an actor-critic."""
    bc: maze_supervised.MazeSupervisedConfig = field(
        default_factory=lambda: maze_supervised.MazeSupervisedConfig(
            sizes=(11,), steps=600, batch_size=32, num_layouts=1024, checkpoint_every=100
        )
    )
    """The oracle-cloning recipe (its distribution, sizes' world and seed are the arm's)."""
    per_side: float = 2.0
    """T = ceil(per_side x maze side) when acting (2.0: the largest T of `bc`'s default range)."""

    def validate(self) -> None:
        check_choice(self.base_optimizer, "base_optimizer", BASE_OPTIMIZERS)
        check(self.per_side > 0, "per_side", f"must be positive (T >= 1), got {self.per_side}")
        if self.base_optimizer == "ppo":
            check(self.model.value_head, "model.value_head", "PPO reads its critic from the value head")


def check_saved_kind(path: Path, kind: str) -> None:
    """Refuse a finished model of another kind before anything is trained or written."""
    if path.exists():
        found = read_model_meta(path).get("kind")
        if found != kind:
            raise MesalabError(
                f"{path}: a model of kind {found!r}, but this run's arch needs {kind!r}; "
                "resume it with the config it was started with, or start a new run"
            )


def load_recurrent_policy(path: Path, device: torch.device | str, per_side: float) -> RecurrentPolicy:
    """A saved recurrent net as a cached red-door policy; a model of another kind is refused."""
    check_saved_kind(path, KIND)
    net, _ = load_model(path, device)
    assert isinstance(net, RecurrentMazeNet)
    return RecurrentPolicy(net.eval(), per_side=per_side)


def train_recurrent_policy(
    cfg: RecurrentArmConfig,
    distribution: str,
    seed: int,
    path: Callable[[str], tuple[object, ...]],
    files: TrainingFiles,
    make_world: Callable[[], GridWorld] | None = None,
    ppo_cfg: ppo.PPOConfig | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    alt: tuple[str, float] | None = None,
) -> tuple[RecurrentPolicy, dict[str, Any]]:
    """Train one net (resuming from `files.checkpoint_dir`); return it as a policy and its meta.

    `bc` clones the oracle on `distribution` (with `alt = (name, fraction)`, that fraction of
    batches from `name`); `ppo` steps `make_world()` with `ppo_cfg`.
    """
    with seeded_init(seed, *path("init")):  # nn.Conv2d's initialisers take no generator
        net = RecurrentMazeNet(cfg.model).to(device)
    with MetricsLogger(files.metrics, tensorboard_dir=files.tensorboard_dir, tag=files.tag) as log:
        if cfg.base_optimizer == "bc":
            bc_cfg = cfg.bc.replace(
                distribution=distribution,
                sizes=(get_distribution(distribution).size,),
                seed=derive_seed31(seed, *path("bc")),
            )
            if alt is not None:
                bc_cfg = bc_cfg.replace(alt_distribution=alt[0], alt_fraction=alt[1])
            maze_supervised.train(bc_cfg, net, log, files.checkpoint_dir, resume=True, progress=progress)
        else:
            if make_world is None or ppo_cfg is None:
                raise MesalabError("PPO training of a recurrent policy needs its world and PPO config")
            agent = RecurrentActorCritic(net, per_side=cfg.per_side)
            ppo.train(
                ppo_cfg.replace(seed=derive_seed31(seed, *path("ppo"))),
                make_world(),
                agent,
                log,
                checkpoint_dir=files.checkpoint_dir,
                resume=True,
                progress=progress,
                description=f"{files.tag or 'recurrent'} ppo",
            )
    net.eval()
    meta = {"base_optimizer": cfg.base_optimizer, "per_side": cfg.per_side, "arch": "recurrent"}
    return RecurrentPolicy(net, per_side=cfg.per_side), meta


def save_recurrent_policy(
    policy: RecurrentPolicy, cfg: RecurrentArmConfig, path: Path, meta: dict[str, Any]
) -> None:
    save_model(policy.net, path, KIND, cfg.model, meta=meta)
