"""PPO learns, resumes bit for bit, and models and results reach disk safely (issue #3).

- a PPO smoke run takes a tiny world from failing to solving it;
- a run interrupted after a checkpoint and resumed in a fresh world ends with exactly the
  weights (and metrics) of an uninterrupted run;
- saved models load back equal, and every broken model file is refused with a
  `MesalabError`;
- `write_json_atomic` never leaves a partial file.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
import torch

from mesalab.envs.gridworld import GridWorld, WorldSpec, get_distribution
from mesalab.errors import MesalabError
from mesalab.models.io import load_model, read_model_meta, save_model
from mesalab.models.policy import ActorCritic, PolicyConfig
from mesalab.models.scripted import GoalSeeker
from mesalab.shift import assess
from mesalab.store import MetricsLogger, write_json_atomic
from mesalab.store.metrics import read_metrics
from mesalab.train import bc, ppo

TINY: WorldSpec = get_distribution("red-door/train").replace(size=5, max_steps=20)
"""A 5x5 maze with a red exit: trivial for a planner policy."""


def _policy(size: int = 5, init_seed: int = 0) -> ActorCritic:
    torch.manual_seed(init_seed)  # the critic's init draws from torch's default generator
    return ActorCritic(PolicyConfig(size=size))


def _greedy_success(policy: torch.nn.Module, spec: WorldSpec = TINY) -> float:
    return assess(policy, spec, episodes=100, seed=7, layout_seed=1000).success()["rate"]


# ---- PPO learns a trivial world -------------------------------------------------------------


def test_ppo_smoke_run_solves_a_tiny_maze() -> None:
    policy = _policy()
    before = _greedy_success(policy)
    world = GridWorld(TINY, 16, seed=0)
    cfg = ppo.PPOConfig(total_steps=4096, num_steps=16, seed=0)  # 16 iterations, about a second
    result = ppo.train(cfg, world, policy, MetricsLogger(None, tag="smoke"), progress=False)
    after = _greedy_success(policy)
    assert before <= 0.2  # untrained: equal logits, the greedy move is always the same
    assert after >= 0.9
    assert result.steps == 4096
    assert result.final_metrics["charts/success"] > 0.5
    assert not policy.training


def test_behaviour_cloning_from_the_oracle_solves_a_tiny_maze() -> None:
    policy = _policy(init_seed=1)
    world = GridWorld(TINY, 16, seed=1)
    result = bc.train(bc.BCConfig(total_steps=4096, num_steps=16, seed=1), world, policy, progress=False)
    assert _greedy_success(policy) >= 0.9
    assert result.final_metrics["losses/bc_loss"] < 0.5


def test_oracle_labels_are_the_shortest_path_moves() -> None:
    world = GridWorld(TINY, 8, seed=2)
    world.reset()
    labels = bc.oracle_labels(world)
    seeker = GoalSeeker("exit")(world.obs) == 0.0  # the scripted exit seeker's allowed moves
    assert torch.equal(labels, seeker)


# ---- resume after interruption --------------------------------------------------------------

RESUME_CFG = ppo.PPOConfig(total_steps=16 * 8 * 4, num_steps=8, checkpoint_every=1, seed=3)
"""Four iterations of 16 worlds x 8 steps, a checkpoint after each."""
INTERRUPT_AT = 3


class Interrupted(MetricsLogger):
    """Logs the row of iteration `INTERRUPT_AT`, then dies before its checkpoint is written."""

    def log(self, step: int, metrics: dict[str, float]) -> None:
        super().log(step, metrics)
        if step == INTERRUPT_AT * 16 * 8:
            raise KeyboardInterrupt


def _rows(path: Path) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "charts/SPS"} for row in read_metrics(path)]


def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    straight = _policy(init_seed=0)
    with MetricsLogger(tmp_path / "a.jsonl", tag="a") as log:
        ppo.train(RESUME_CFG, GridWorld(TINY, 16, seed=5), straight, log, tmp_path / "a", progress=False)

    interrupted = _policy(init_seed=0)
    with pytest.raises(KeyboardInterrupt), Interrupted(tmp_path / "b.jsonl", tag="a") as log:
        ppo.train(RESUME_CFG, GridWorld(TINY, 16, seed=5), interrupted, log, tmp_path / "b", progress=False)
    assert json.loads((tmp_path / "b" / "checkpoint.json").read_text())["iteration"] == INTERRUPT_AT - 1

    # as a new process would: fresh world, fresh policy with other initial weights
    resumed = _policy(init_seed=99)
    assert not torch.equal(resumed.critic.linear.weight, straight.critic.linear.weight)
    with MetricsLogger(tmp_path / "b.jsonl", tag="a") as log:
        ppo.train(
            RESUME_CFG, GridWorld(TINY, 16, seed=5), resumed, log, tmp_path / "b", resume=True, progress=False
        )

    expected, got = straight.state_dict(), resumed.state_dict()
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name
    # the row logged before the crash was dropped and logged again: same rows, same numbers
    assert [row["step"] for row in _rows(tmp_path / "b.jsonl")] == [128, 256, 384, 512]
    assert _rows(tmp_path / "b.jsonl") == _rows(tmp_path / "a.jsonl")


def test_resume_without_a_checkpoint_starts_from_scratch(tmp_path: Path) -> None:
    cfg = RESUME_CFG.replace(total_steps=256)
    fresh, resumed = _policy(), _policy()
    ppo.train(cfg, GridWorld(TINY, 16, seed=5), fresh, None, tmp_path / "a", progress=False)
    ppo.train(cfg, GridWorld(TINY, 16, seed=5), resumed, None, tmp_path / "b", resume=True, progress=False)
    for name, tensor in fresh.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name


# ---- model files ------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path: Path) -> tuple[ActorCritic, Path]:
    model = _policy()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param))  # not the initial weights
    path = save_model(model, tmp_path / "m", "actor-critic", model.cfg, meta={"trained_on": "red-door/train"})
    return model, path


def test_save_load_round_trip(saved) -> None:
    model, path = saved
    assert path.suffix == ".safetensors" and path.with_suffix(".json").exists()
    loaded, meta = load_model(path)
    assert isinstance(loaded, ActorCritic)
    assert loaded.cfg == model.cfg
    assert meta["kind"] == "actor-critic" and meta["trained_on"] == "red-door/train"
    assert not loaded.training
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    obs = GridWorld(TINY, 4, seed=0).reset()
    assert torch.equal(model.eval()(obs), loaded(obs))
    # the JSON path names the same model
    assert load_model(path.with_suffix(".json"))[1] == meta


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


BROKEN = {
    "missing weights": (lambda p: p.unlink(), "no such model file"),
    "truncated weights": (_truncate, "not a readable safetensors file"),
    "random bytes": (
        lambda p: p.write_bytes(random.Random(0).randbytes(64)),
        "not a readable safetensors file",
    ),
    "empty weights": (lambda p: p.write_bytes(b""), "not a readable safetensors file"),
    "missing config": (lambda p: p.with_suffix(".json").unlink(), "model config missing"),
    "invalid config JSON": (lambda p: p.with_suffix(".json").write_text("{not json"), "not valid JSON"),
    "JSON of another kind": (
        lambda p: p.with_suffix(".json").write_text('{"a": 1}'),
        "not a mesalab model config",
    ),
    "unknown model kind": (
        lambda p: p.with_suffix(".json").write_text(
            json.dumps({**json.loads(p.with_suffix(".json").read_text()), "kind": "nope"})
        ),
        "unknown model kind 'nope'",
    ),
    "config of another size": (
        lambda p: p.with_suffix(".json").write_text(
            json.dumps(
                {
                    **(meta := json.loads(p.with_suffix(".json").read_text())),
                    "config": {**meta["config"], "size": 4},  # every field named: the size is refused
                }
            )
        ),
        "size: must be odd",
    ),
}
"""Ways a model file can be broken, and what the error must say."""


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_model_files_are_refused(case: str, saved) -> None:
    _, path = saved
    damage, message = BROKEN[case]
    damage(path)
    with pytest.raises(MesalabError) as info:
        load_model(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_weights_of_another_shape_are_refused(tmp_path: Path) -> None:
    small = _policy(size=5)
    path = save_model(small, tmp_path / "m", "actor-critic", small.cfg)
    meta = read_model_meta(path)
    meta["config"]["arch"] = "mlp"  # an MLP's weights are not a planner's
    path.with_suffix(".json").write_text(json.dumps(meta))
    with safetensors.safe_open(str(path), framework="pt") as handle:  # both copies of the config agree
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        inner = {**(handle.metadata() or {}), "config": json.dumps(meta["config"])}
    safetensors.torch.save_file(tensors, str(path), metadata=inner)
    with pytest.raises(MesalabError, match="tensors do not match an actor-critic"):
        load_model(path)


def test_policy_refuses_observations_of_another_size() -> None:
    with pytest.raises(MesalabError, match="does not fit this policy"):
        assess(_policy(size=7), "red-door/deploy", episodes=2, seed=0)


# ---- atomic results -------------------------------------------------------------------------


def test_write_json_atomic_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    with pytest.raises(TypeError):
        write_json_atomic(target, {"fine": [1, 2, 3], "broken": object()})
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []

    write_json_atomic(target, {"old": True})
    old = target.read_text()
    with pytest.raises(TypeError):
        write_json_atomic(target, {"new": True, "broken": object()})
    assert target.read_text() == old
    assert list(tmp_path.iterdir()) == [target]


def test_write_json_atomic_cleans_up_when_the_disk_write_fails(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "results.json"
    write_json_atomic(target, {"old": True})
    old = target.read_text()

    def failing_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        write_json_atomic(target, {"new": True})
    assert target.read_text() == old
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind
