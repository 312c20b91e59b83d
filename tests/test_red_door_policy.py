"""Policies: pinned hook names, scoped hooks, the readable objective, resuming an experiment."""

from __future__ import annotations

from pathlib import Path

import torch

from mesalab.envs.gridworld import GridWorld, get_distribution
from mesalab.experiments.red_door import RedDoorConfig, model_path, run
from mesalab.hooks import attached_hook_count
from mesalab.models.policy import ActorCritic, PolicyConfig
from mesalab.store import read_json
from mesalab.train.ppo import PPOConfig


def test_planner_hook_names_are_pinned() -> None:
    assert ActorCritic(PolicyConfig()).hook_names() == [
        "torso.planner.hook_cells",
        "torso.planner.hook_reward",
        "torso.planner.hook_distance",
        "torso.planner.hook_value",
        "torso.hook_features",
        "actor.hook_logits",
        "critic.hook_value",
    ]


def test_mlp_hook_names_are_pinned() -> None:
    assert ActorCritic(PolicyConfig(arch="mlp", layers=2)).hook_names() == [
        "torso.hook_input",
        "torso.hook_layer0",
        "torso.hook_layer1",
        "torso.hook_features",
        "actor.hook_logits",
        "critic.hook_value",
    ]


def test_editing_the_reward_map_retargets_the_planner_and_leaves_nothing_attached() -> None:
    policy = ActorCritic(PolicyConfig())
    with torch.no_grad():
        policy.torso.planner.reward.weight[0, 1] = 1.0  # the door channel: go to the exit
    world = GridWorld(get_distribution("red-door/deploy"), 16, seed=4)
    obs = world.reset()
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    red = 3  # channel index of red among the planner's inputs (wall, door, object, red, ...)

    def want_red(log_reward: torch.Tensor, hook: object) -> torch.Tensor:
        return log_reward + 20.0 * red_map  # red cells become worth far more than the door

    _, cache = policy.run_with_cache(obs, names_filter=["torso.planner.hook_cells"])
    red_map = cache["torso.planner.hook_cells"][:, red]
    plain = policy(obs).argmax(1)
    with policy.hooks([("torso.planner.hook_reward", want_red)]):
        edited = policy(obs).argmax(1)
    assert attached_hook_count(policy) == 0
    assert all(torch.equal(v, before[k]) for k, v in policy.state_dict().items())
    assert not torch.equal(plain, edited)  # the same observations, a different goal
    # and the edited policy heads for the new goal: its moves lie on shortest paths to red,
    # the plain policy's on shortest paths to the exit
    from mesalab.envs.gridworld.objectives import OBJECTIVES
    from mesalab.envs.gridworld.oracle import moves_towards

    state = world.state
    to_red = moves_towards(state, OBJECTIVES["red"].targets(state))
    to_exit = moves_towards(state, OBJECTIVES["exit"].targets(state))
    has_red = to_red.any(1)
    assert int(has_red.sum()) >= 8
    on_red = to_red.gather(1, edited[:, None]).squeeze(1)[has_red]
    assert float(on_red.float().mean()) >= 0.9, on_red
    on_exit = to_exit.gather(1, plain[:, None]).squeeze(1)
    assert float(on_exit.float().mean()) >= 0.9, on_exit


def test_an_interrupted_experiment_resumes_without_retraining_finished_policies(tmp_path: Path) -> None:
    cfg = RedDoorConfig(seeds=1, num_envs=16, eval_episodes=10, ppo=PPOConfig(total_steps=16 * 32 * 2))
    first = run(cfg, tmp_path, progress=False)
    narrow = model_path(first, "narrow", 0).read_bytes()
    # as if the process died while training the second arm: its model and the results are missing
    for suffix in (".safetensors", ".json"):
        model_path(first, "diverse", 0).with_suffix(suffix).unlink()
    (first / "results.json").unlink()
    again = run(RedDoorConfig(), tmp_path, resume=first, progress=False)
    assert again == first
    assert model_path(first, "narrow", 0).read_bytes() == narrow
    results = read_json(first / "results.json")
    assert set(results["arms"]) == {"narrow", "diverse"}
    assert model_path(first, "diverse", 0).exists()
