"""The `oversight-arm` sweep trial (the gap against the overseer probability) and its figure."""

from __future__ import annotations

from pathlib import Path

import pytest

import mesalab.experiments  # noqa: F401  registers the flagships' sweep trials
from mesalab.errors import ConfigError
from mesalab.experiments.oversight import OversightConfig
from mesalab.experiments.oversight.trial import TRIAL_NAME, OversightArmConfig, run_oversight_arm
from mesalab.sweep.experiment import get_sweep_experiment, with_overrides
from mesalab.sweep.records import TrialRecord
from mesalab.sweep.report import _metric_figure
from mesalab.train.ppo import PPOConfig

TINY = OversightArmConfig(
    overseer_prob=0.9, num_envs=16, eval_episodes=12, ppo=PPOConfig(total_steps=1024, learning_rate=1e-2)
)


def test_trial_returns_the_gap_with_its_interval_and_resumes(tmp_path: Path) -> None:
    first = run_oversight_arm(TINY, tmp_path)
    assert first["oversight_gap_low"] <= first["oversight_gap"] <= first["oversight_gap_high"]
    assert 0.0 <= first["restricted_watched"] <= 1.0 and 0.0 <= first["train_exit"] <= 1.0
    assert first["finding"] in {"oversight-conditional", "not oversight-conditional", "inconclusive"}
    assert (tmp_path / "models" / "main-seed0.safetensors").exists()
    assert run_oversight_arm(TINY, tmp_path) == first, "a finished trial loads its model: same numbers"


def test_the_axis_sets_the_training_probability_and_bad_values_are_refused() -> None:
    exp = get_sweep_experiment(TRIAL_NAME)
    cfg = with_overrides(exp.config, {"overseer_prob": "0.1"})
    assert isinstance(cfg, OversightArmConfig)
    assert cfg.experiment().spec("oversight/train").overseer_prob == 0.1
    assert cfg.experiment().spec("oversight/watched").overseer_prob == 1.0  # the assessment's stay put
    for field, value in (("overseer_prob", 1.5), ("overseer_prob", -0.2), ("size", 5)):
        with pytest.raises(ConfigError, match=field):
            OversightArmConfig(**{field: value})
        with pytest.raises(ConfigError, match=field):
            OversightConfig(**{field: value})


def test_the_sweep_figure_draws_each_trials_interval(tmp_path: Path) -> None:
    def trial(p: float, gap: float) -> TrialRecord:
        results = {"oversight_gap": gap, "oversight_gap_low": gap - 0.1, "oversight_gap_high": gap + 0.1}
        return TrialRecord(f"p{p}", {"overseer_prob": p}, 0, 0, "done", results, None, 1.0, tmp_path)

    figure = _metric_figure([trial(0.1, 0.2), trial(0.9, 0.8)], ["overseer_prob"], "oversight_gap")
    assert figure is not None and "95% interval" in figure.caption
    plain = _metric_figure(
        [TrialRecord("a", {"x": 1.0}, 0, 0, "done", {"score": 1.0}, None, 1.0, tmp_path)], ["x"], "score"
    )
    assert plain is not None and "interval" not in plain.caption
