"""`--arch recurrent` on the red-door flagships: the generic recurrent net as the policy torso (issue 11).

Tiny budgets on one thread: the pipeline runs end to end and saves recurrent models; PPO
moves the net's weights through the actor-critic view; a finished model of another kind in a
resumed run folder is one `error:` line, exit 2, and nothing is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mesalab.envs.gridworld import GridWorld, get_distribution
from mesalab.errors import ConfigError, MesalabError
from mesalab.experiments.red_door import RedDoorConfig, model_path, run
from mesalab.experiments.red_door.recurrent import RecurrentArmConfig
from mesalab.models.io import read_model_meta, save_model
from mesalab.models.policy import ActorCritic, PolicyConfig
from mesalab.models.recurrent import RecurrentActorCritic, RecurrentConfig, RecurrentMazeNet
from mesalab.seeding import seeded_init
from mesalab.train import maze_supervised, ppo

TINY_ARM = RecurrentArmConfig(
    model=RecurrentConfig(width=6, hooked_iterations=0),
    bc=maze_supervised.MazeSupervisedConfig(
        sizes=(11,), steps=6, batch_size=4, num_layouts=16, checkpoint_every=0
    ),
)


def tiny_config(**changes: object) -> RedDoorConfig:
    return RedDoorConfig(seeds=1, arch="recurrent", eval_episodes=6, recurrent=TINY_ARM).replace(**changes)


def test_red_door_recurrent_end_to_end(tmp_path: Path) -> None:
    run_dir = run(tiny_config(), tmp_path, progress=False)
    results = json.loads((run_dir / "results.json").read_text())
    for arm in ("narrow", "diverse"):
        meta = read_model_meta(model_path(run_dir, arm, 0))
        assert meta["kind"] == "recurrent" and meta["base_optimizer"] == "bc"
        entry = results["arms"][arm]["seeds"]["0"]
        assert entry["learned_objective"] is None  # no reward weights to read off a generic net
        assert "verdict" in entry["distributions"]["red-door/deploy"]
    assert "cloning the BFS oracle" in (run_dir / "report.html").read_text()
    # finishing the finished run loads the saved nets instead of training them again
    before = (run_dir / "metrics.jsonl").read_text()
    run(RedDoorConfig(), tmp_path, resume=run_dir, progress=False)
    assert (run_dir / "metrics.jsonl").read_text() == before


def test_ppo_moves_the_recurrent_net(tmp_path: Path) -> None:
    with seeded_init(0, "test"):
        net = RecurrentMazeNet(RecurrentConfig(width=6, hooked_iterations=0))
    before = [p.detach().clone() for p in net.parameters()]
    agent = RecurrentActorCritic(net, per_side=1.0)
    world = GridWorld(get_distribution("red-door/train").replace(num_layouts=16), 8, seed=0)
    logits, value = agent.logits_and_value(world.reset())
    assert logits.shape == (8, 4) and value.shape == (8,)
    cfg = ppo.PPOConfig(total_steps=128, num_steps=16, num_minibatches=2, update_epochs=1)
    ppo.train(cfg, world, agent, checkpoint_dir=tmp_path, progress=False)
    assert (tmp_path / "checkpoint.json").exists()
    moved = [not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True)]
    assert all(moved)  # every weight, the value head's included, takes part


def test_recurrent_arm_config_refuses_bad_values() -> None:
    with pytest.raises(ConfigError, match="base_optimizer"):
        RecurrentArmConfig(base_optimizer="sgd")
    with pytest.raises(ConfigError, match="per_side"):
        RecurrentArmConfig(per_side=0.0)
    with pytest.raises(ConfigError, match="value_head"):
        RecurrentArmConfig(base_optimizer="ppo", model=RecurrentConfig(value_head=False))
    with pytest.raises(ConfigError, match="arch"):
        RedDoorConfig(arch="transformer")
    with pytest.raises(ConfigError, match="obs_mode"):
        RedDoorConfig(arch="recurrent", obs_mode="pixels")
    with pytest.raises(MesalabError, match="value head"):
        RecurrentActorCritic(RecurrentMazeNet(RecurrentConfig(width=4, value_head=False)))


def test_resume_with_a_model_of_another_kind_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    from mesalab.cli import main
    from mesalab.store import create_run_dir

    monkeypatch.chdir(tmp_path)
    run_dir = create_run_dir("red-door", tiny_config(), tmp_path / "runs")
    policy_cfg = PolicyConfig(size=11)
    save_model(ActorCritic(policy_cfg), model_path(run_dir, "diverse", 0), "actor-critic", policy_cfg)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    assert main(["run", "red-door", "--out", str(tmp_path / "runs"), "--resume", str(run_dir)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "'actor-critic'" in lines[0], lines
    assert "needs 'recurrent'" in lines[0]
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_emergence_trial_takes_the_recurrent_arch(tmp_path: Path) -> None:
    from mesalab.experiments.emergence_red_door.config import DEFAULT_TRIAL
    from mesalab.experiments.emergence_red_door.trial import run_trial

    cfg = DEFAULT_TRIAL.replace(arch="recurrent", recurrent=TINY_ARM, alt_fraction=0.5, eval_episodes=6)
    out = run_trial(cfg, tmp_path)
    assert 0.0 <= out["train_success"] <= 1.0 and out["verdict"]
    assert read_model_meta(tmp_path / "policy.safetensors")["kind"] == "recurrent"
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows and "charts/maze_accuracy" in rows[-1]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--set", "recurrent.per_side=0"], "per_side"),
        (["--set", "recurrent.base_optimizer=sgd"], "base_optimizer"),
        (["--set", "obs_mode=pixels"], "obs_mode"),
        (["--set", "recurrent.bc.sizes=[3]"], "odd and >= 5"),
    ],
)
def test_cli_bad_recurrent_input_is_one_line_and_writes_nothing(
    tmp_path: Path, args: list[str], fragment: str, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    from mesalab.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["run", "red-door", "--arch", "recurrent", "--out", str(tmp_path / "runs"), *args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert not any(tmp_path.iterdir())
