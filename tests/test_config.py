"""Retired config fields (issue #10): run folders written before still load and resume.

- an old `config.json` whose PPO config holds the retired `shaping` loads, with one note line,
  to the config it described, and hashes as it did;
- a retired field away from the value at which it changed nothing is refused (this version
  cannot run it), and so is a field no config ever had;
- a PPO checkpoint written with `shaping` resumes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import safetensors.torch

from mesalab import config as config_module
from mesalab.config import Config
from mesalab.envs.gridworld import GridWorld, get_distribution
from mesalab.errors import ConfigError
from mesalab.experiments.red_door import RedDoorConfig
from mesalab.models.policy import ActorCritic, PolicyConfig
from mesalab.store import create_run_dir, read_json
from mesalab.train import ppo

OLD_HASH = "2a2f170031"
"""`RedDoorConfig().stable_hash()` before `ppo.shaping` retired."""


def _old_config_json(tmp_path: Path, shaping: float = 0.0) -> Path:
    """A run folder's config.json as versions with `PPOConfig.shaping` wrote it."""
    run_dir = create_run_dir("red-door", RedDoorConfig(), tmp_path)
    meta = read_json(run_dir / "config.json")
    meta["config"]["ppo"]["shaping"] = shaping
    (run_dir / "config.json").write_text(json.dumps(meta))
    return run_dir / "config.json"


def test_an_old_config_with_a_retired_field_loads_with_one_note(tmp_path: Path, capsys) -> None:
    path = _old_config_json(tmp_path)
    config_module._NOTED.clear()
    loaded = RedDoorConfig.from_dict(read_json(path)["config"])
    assert loaded == RedDoorConfig()
    assert "shaping" not in loaded.to_dict()["ppo"]
    assert capsys.readouterr().err.strip() == "note: config field ppo.shaping is retired; dropped"
    RedDoorConfig.from_dict(read_json(path)["config"])  # noted once per process, not per folder
    assert capsys.readouterr().err == ""


def test_retiring_a_field_changes_no_hash() -> None:
    assert RedDoorConfig().stable_hash() == OLD_HASH
    assert RedDoorConfig().identity()["ppo"]["shaping"] == 0.0
    assert "shaping" not in RedDoorConfig().to_dict()["ppo"]


def test_a_retired_field_away_from_its_neutral_value_is_refused(tmp_path: Path) -> None:
    path = _old_config_json(tmp_path, shaping=0.5)
    with pytest.raises(ConfigError, match=r"ppo\.shaping: is retired.*got 0\.5"):
        RedDoorConfig.from_dict(read_json(path)["config"])


def test_an_unknown_field_is_still_refused() -> None:
    with pytest.raises(ConfigError, match="shapping: not a field of PPOConfig"):
        ppo.PPOConfig.from_dict({"shapping": 0.0})
    with pytest.raises(ConfigError, match="bogus: not a field of RedDoorConfig"):
        RedDoorConfig.from_dict({**RedDoorConfig().to_dict(), "bogus": 1})


def test_a_config_without_retired_fields_is_untouched() -> None:
    assert Config.RETIRED_FIELDS == {}
    cfg = ppo.PPOConfig(seed=4)
    assert cfg.identity() == {**cfg.to_dict(), "shaping": 0.0}
    assert ppo.PPOConfig.from_dict(cfg.to_dict()) == cfg


def test_a_ppo_checkpoint_written_with_shaping_resumes(tmp_path: Path) -> None:
    spec = get_distribution("red-door/train").replace(size=5, max_steps=20)
    cfg = ppo.PPOConfig(total_steps=16 * 8 * 2, num_steps=8, checkpoint_every=1, seed=3)
    half = cfg.replace(total_steps=16 * 8)
    policy = ActorCritic(PolicyConfig(size=5))
    ppo.train(half, GridWorld(spec, 16, seed=5), policy, None, tmp_path, progress=False)
    counters = json.loads((tmp_path / "checkpoint.json").read_text())
    counters["config"] = {**cfg.to_dict(), "shaping": 0.0}  # as the older version wrote it
    (tmp_path / "checkpoint.json").write_text(json.dumps(counters))
    weights = str(tmp_path / "checkpoint.safetensors")  # older versions kept the counters only in the JSON
    safetensors.torch.save_file(safetensors.torch.load_file(weights), weights)
    result = ppo.train(
        cfg, GridWorld(spec, 16, seed=5), ActorCritic(PolicyConfig(size=5)), None, tmp_path, True, False
    )
    assert result.steps == 16 * 8 * 2
    assert json.loads((tmp_path / "checkpoint.json").read_text())["iteration"] == 2
