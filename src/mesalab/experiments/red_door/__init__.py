"""The red-door flagship: `config` (arms, shifts, presets), `run` (train, judge, report),
`report`, `trial` (one arm as the `red-door-arm` sweep trial), and `training`
(`train_policy`, the PPO training both red-door flagships share)."""

from mesalab.experiments.red_door.config import ARMS, QUICK, SHIFTS, RedDoorConfig
from mesalab.experiments.red_door.run import assess_model, model_path, run, summarise, train_arm
from mesalab.experiments.red_door.training import TrainingFiles, train_policy

__all__ = [
    "ARMS",
    "QUICK",
    "SHIFTS",
    "RedDoorConfig",
    "TrainingFiles",
    "assess_model",
    "model_path",
    "run",
    "summarise",
    "train_arm",
    "train_policy",
]
