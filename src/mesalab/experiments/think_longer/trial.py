"""The sweep trial `think-longer-width`: one recurrent net of a given width, trained and measured.

`mesalab sweep think-longer-width --axis width=4,8,16,24,32` answers "what is the smallest net
that learns to search?": each trial trains one net with the flagship's recipe and net
(`ThinkLongerConfig().train` and `.model` at the trial's width; resuming from its checkpoint in
the trial folder), then
measures held-out success at `eval_size` with T = the side and with 4x the side, and the
wavefront and dead-end-filling probes' mean balanced accuracy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesalab.config import Config, check
from mesalab.experiments.think_longer.config import ThinkLongerConfig
from mesalab.experiments.think_longer.evaluate import few_and_many, success_by_t
from mesalab.experiments.think_longer.probe import probe_study
from mesalab.models.io import save_model
from mesalab.models.recurrent import RecurrentConfig, RecurrentMazeNet
from mesalab.seeding import derive_seed, seeded_init
from mesalab.store.metrics import MetricsLogger
from mesalab.sweep.experiment import SweepExperiment, register_sweep_experiment
from mesalab.train import maze_supervised

TRIAL_NAME = "think-longer-width"


@dataclass(frozen=True)
class ThinkWidthTrialConfig(Config):
    """One recurrent maze net: trained from the oracle, then run longer on bigger mazes and probed."""

    seed: int = 0
    """Seed of the weights, the data and the evaluation (replaced per trial by the sweep)."""
    width: int = 16
    """Channels of the hidden state (the flagship's net has 24)."""
    gate_kernel: int = 1
    """Side of the gates' convolution, as in the flagship (1: news crosses one cell an iteration)."""
    train: maze_supervised.MazeSupervisedConfig = field(default_factory=lambda: ThinkLongerConfig().train)
    """The base optimizer: the flagship's recipe (its seed is derived from `seed`)."""
    eval_size: int = 31
    """Maze side of the held-out evaluation and of the probe test."""
    eval_episodes: int = 50
    """Held-out mazes."""
    eval_layout_seed: int = 1000
    """Layout seed of the held-out mazes."""

    @property
    def model(self) -> RecurrentConfig:
        """The trial's net: the flagship's with `width` channels and `gate_kernel` gates."""
        return ThinkLongerConfig().model.replace(width=self.width, gate_kernel=self.gate_kernel)

    def validate(self) -> None:
        self.model.validate()
        check(
            self.eval_size >= 5 and self.eval_size % 2 == 1,
            "eval_size",
            f"must be odd and >= 5, got {self.eval_size}",
        )
        check(self.eval_episodes >= 1, "eval_episodes", f"must be >= 1, got {self.eval_episodes}")


def run_trial(cfg: Config, trial_dir: Path) -> dict[str, Any]:
    """Train (or resume), evaluate, probe; flat results."""
    assert isinstance(cfg, ThinkWidthTrialConfig)
    model_cfg = cfg.model
    with seeded_init(cfg.seed, "init"):
        net = RecurrentMazeNet(model_cfg)
    train_cfg = cfg.train.replace(seed=derive_seed(cfg.seed, "train") % (2**31))
    started = time.perf_counter()
    with MetricsLogger(trial_dir / "metrics.jsonl") as log:
        last = maze_supervised.train(
            train_cfg, net, log, checkpoint_dir=trial_dir / "checkpoints", resume=True, progress=False
        )
    seconds = time.perf_counter() - started
    save_model(net, trial_dir / "model", "recurrent", model_cfg, meta={"train_seconds": seconds})
    few, many = few_and_many(cfg.eval_size)
    result, _ = success_by_t(
        net,
        cfg.eval_size,
        [few, many],
        cfg.eval_episodes,
        cfg.eval_layout_seed,
        cfg.seed,
        train_cfg.distribution,
    )
    with seeded_init(cfg.seed, "control"):
        control = RecurrentMazeNet(model_cfg).eval()
    fit_size = max(train_cfg.sizes)
    probe, _, _ = probe_study(
        net, control, fit_size, cfg.eval_size, 24, 4, cfg.eval_layout_seed + 5, cfg.seed
    )
    accuracy = {h: sum(a) / len(a) for h, a in probe["accuracy"].items()}
    return {
        "width": cfg.width,
        "gate_kernel": cfg.gate_kernel,
        "parameters": sum(p.numel() for p in net.parameters()),
        "train_cell_accuracy": float(last.get("charts/cell_accuracy", float("nan"))),
        "success_few": result.rate(few),
        "success_many": result.rate(many),
        "gain": result.rate(many) - result.rate(few),
        "probe_wavefront": accuracy["wavefront"],
        "probe_dead_end_filling": accuracy["dead-end filling"],
        "train_seconds": seconds,
    }


register_sweep_experiment(
    SweepExperiment(
        name=TRIAL_NAME,
        config=ThinkWidthTrialConfig(),
        run=run_trial,
        description="train one recurrent maze net of a given width; success with few/many iterations; probes",
        metrics=("success_few", "success_many", "gain", "probe_wavefront", "probe_dead_end_filling"),
    )
)
