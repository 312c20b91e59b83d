"""Property tests over random action sequences (hypothesis)."""

from __future__ import annotations

import functools

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mesalab.envs.gridworld import GridWorld, WorldSpec, get_distribution

BATCH = 4
NAMES = ["red-door/train", "red-door/deploy", "red-door/diverse"]


@functools.cache
def _spec(name: str) -> WorldSpec:
    return get_distribution(name).replace(max_steps=20)  # short, so that truncation happens


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    obs_mode=st.sampled_from(["symbolic", "pixels"]),
    seed=st.integers(0, 2**31 - 1),
    actions=st.lists(st.lists(st.integers(0, 3), min_size=BATCH, max_size=BATCH), min_size=1, max_size=80),
)
def test_invariants_hold_every_step(name: str, obs_mode: str, seed: int, actions: list[list[int]]) -> None:
    world = GridWorld(_spec(name), BATCH, seed=seed, obs_mode=obs_mode)
    world.reset()
    rows = torch.arange(BATCH)
    for step_actions in torch.tensor(actions):
        steps_before = world.state.steps.clone()
        _, reward, terminated, truncated, info = world.step(step_actions)
        agent = world.state.agent
        assert not bool(world.state.walls[rows, agent].any()), "the agent never stands in a wall"
        assert bool(((reward == 0) | (reward == 1)).all())
        objectives = info["objectives"]
        assert bool(((objectives == 0) | (objectives == 1)).all())
        assert torch.equal(reward, objectives[:, world.objective_names.index("exit")])
        running = ~terminated & ~truncated
        # exactly one of: a target reached, still running, truncated
        assert bool((terminated.int() + truncated.int() + running.int() == 1).all())
        assert torch.equal(terminated, info["reached"] >= 0)
        assert torch.equal(truncated, ~terminated & (info["steps"] >= world.spec.max_steps))
        assert torch.equal(info["steps"], steps_before + 1)
        assert bool((objectives.sum(1)[~terminated] == 0).all()), "nothing is paid without a target"
        done = terminated | truncated
        if bool(done.any()):
            assert torch.equal(info["final_index"], done.nonzero().squeeze(1))
            assert bool((world.state.steps[done] == 0).all()), "finished worlds restarted"
