"""Saved models open in nnsight: a trace reads and edits a hook point and leaves the model as it was.

Skipped where the `interp` extra (nnsight) is not installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mesalab.envs.gridworld import GridWorld, get_distribution
from mesalab.envs.icl import TaskSpec, sample_seeded
from mesalab.hooks import HookedModule, attached_hook_count
from mesalab.models.io import load_model, save_model
from mesalab.models.lsa import LinearSelfAttention, LSAConfig
from mesalab.models.policy import ActorCritic, PolicyConfig

nnsight = pytest.importorskip("nnsight")


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def _unchanged(model: torch.nn.Module, before: dict[str, torch.Tensor]) -> bool:
    after = model.state_dict()
    return after.keys() == before.keys() and all(torch.equal(after[k], before[k]) for k in before)


def test_a_saved_planner_policy_traces_and_edits_its_reward_map(tmp_path: Path) -> None:
    cfg = PolicyConfig()
    torch.manual_seed(0)
    path = save_model(ActorCritic(cfg), tmp_path / "narrow-seed0", "actor-critic", cfg)
    policy, _ = load_model(path)
    assert isinstance(policy, HookedModule)
    obs = GridWorld(get_distribution("red-door/train"), 6, seed=3).reset().clone()
    weights = _snapshot(policy)
    clean_logits, cache = policy.run_with_cache(obs, names_filter="torso.planner.hook_reward")

    traced = nnsight.NNsight(policy)
    with traced.trace(obs):
        reward = traced.torso.planner.hook_reward.output.save()
        logits = traced.output.save()
    assert torch.equal(reward, cache["torso.planner.hook_reward"]) and torch.equal(logits, clean_logits)

    flat = torch.zeros_like(reward)  # every cell pays alike: the planner no longer knows where to go
    with traced.trace(obs):
        traced.torso.planner.hook_reward.output = flat
        edited = traced.output.save()
    expected = policy.run_with_hooks(obs, fwd_hooks=[("torso.planner.hook_reward", lambda a, hook: flat)])
    assert torch.allclose(edited, expected) and not torch.allclose(edited, clean_logits)

    # no permanent edits: same weights, no hook left behind, the same outputs as before
    assert _unchanged(policy, weights) and attached_hook_count(policy) == 0
    assert torch.equal(policy(obs), clean_logits)


def test_a_saved_lsa_traces_and_ablates_an_attention_layer(tmp_path: Path) -> None:
    cfg = LSAConfig(token_dim=5, n_layers=2, init_scale=0.3)
    path = save_model(LinearSelfAttention(cfg), tmp_path / "lsa-2", "lsa", cfg)
    model, _ = load_model(path)
    assert isinstance(model, HookedModule)
    tokens = sample_seeded(TaskSpec(dim=4, n_context=6), 8, 0, "interop").tokens()
    weights = _snapshot(model)
    clean = model(tokens)

    traced = nnsight.NNsight(model)
    with traced.trace(tokens):
        scores = traced.blocks[0].attn.hook_attn_scores.output.save()
        resid = traced.blocks[1].hook_resid_post.output.save()
    _, cache = model.run_with_cache(
        tokens, names_filter=["blocks.0.attn.hook_scores", "blocks.1.hook_resid_post"]
    )
    assert torch.equal(scores, cache["blocks.0.attn.hook_scores"])  # the old name reads the same activation
    assert tuple(scores.shape) == (8, 7, 6) and torch.equal(resid, cache["blocks.1.hook_resid_post"])

    with traced.trace(tokens):
        traced.blocks[0].attn.hook_attn_scores.output[:] = 0  # layer 0 attends to nothing
        ablated = traced.output.save()
    zero = [("blocks.0.attn.hook_attn_scores", lambda a, hook: torch.zeros_like(a))]
    assert torch.allclose(ablated, model.run_with_hooks(tokens, fwd_hooks=zero))
    assert not torch.allclose(ablated, clean)
    assert _unchanged(model, weights) and attached_hook_count(model) == 0
    assert torch.equal(model(tokens), clean)


def test_readme_nnsight_example_runs(tmp_path: Path) -> None:
    from test_hooks import readme_example

    scope = readme_example("Look inside with nnsight", tmp_path)
    reward = scope["reward"]
    assert isinstance(reward, torch.Tensor) and tuple(reward.shape) == (4, 11, 11)
