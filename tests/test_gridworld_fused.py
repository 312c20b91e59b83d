"""The compiled CPU step (`GridWorld(..., fused=True)`) equals the eager step bit for bit."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from gridworld_helpers import SMALL
from mesalab.envs.gridworld import GridWorld, get_distribution
from mesalab.envs.gridworld.fused import DISABLE_VARIABLE, fused_kernel
from mesalab.envs.gridworld.mixture import MixtureWorld
from mesalab.errors import ConfigError, MesalabError

DEPLOY = get_distribution("red-door/deploy").replace(num_layouts=512)

if shutil.which(os.environ.get("CXX", "c++")) is None:
    pytest.skip("no C++ compiler to build the fused step with", allow_module_level=True)


def _same_rollout(eager: GridWorld, fused: GridWorld, steps: int, seed: int) -> int:
    """Step both with the same random actions; assert identical results; return resets seen."""
    assert torch.equal(eager.reset(), fused.reset())
    gen, resets = torch.Generator().manual_seed(seed), 0
    for t in range(steps):
        actions = torch.randint(0, 4, (eager.batch_size,), generator=gen)
        a, b = eager.step(actions), fused.step(actions)
        for x, y in zip(a[:4], b[:4], strict=True):
            assert torch.equal(x, y), f"step {t}"
        assert a[4].keys() == b[4].keys(), f"step {t}"
        for key in a[4]:
            assert torch.equal(a[4][key], b[4][key]), f"step {t}: info[{key!r}]"
        resets += int(a[4].get("final_index", torch.empty(0)).numel())
    for name in ("walls", "agent", "start", "targets", "colours", "start_dist", "steps"):
        assert torch.equal(getattr(eager.state, name), getattr(fused.state, name)), name
    assert torch.equal(eager.episode, fused.episode)
    return resets


@pytest.mark.parametrize("obs_mode", ["symbolic", "pixels"])
@pytest.mark.parametrize("batch", [1, 96])
def test_fused_equals_eager_with_autoreset(obs_mode: str, batch: int) -> None:
    make = lambda fused: GridWorld(DEPLOY, batch, seed=5, obs_mode=obs_mode, fused=fused)  # noqa: E731
    assert _same_rollout(make(False), make(True), 250, seed=1) >= 2 * batch


def test_fused_equals_eager_without_autoreset_and_after_set_state() -> None:
    eager = GridWorld(SMALL, 16, seed=2, autoreset=False)
    fused = GridWorld(SMALL, 16, seed=2, autoreset=False, fused=True)
    _same_rollout(eager, fused, 30, seed=3)
    source = GridWorld(SMALL, 16, seed=9)
    source.reset()
    assert torch.equal(eager.set_state(source.state), fused.set_state(source.state))
    gen = torch.Generator().manual_seed(4)
    for _ in range(20):
        actions = torch.randint(0, 4, (16,), generator=gen)
        pairs = zip(eager.step(actions)[:4], fused.step(actions)[:4], strict=True)
        assert all(torch.equal(x, y) for x, y in pairs)


def test_fused_mixture_world_keeps_its_components() -> None:
    train, diverse = get_distribution("red-door/train"), get_distribution("red-door/diverse")
    make = lambda fused: MixtureWorld(  # noqa: E731
        train.replace(num_layouts=512), diverse.replace(num_layouts=512), 0.3, 64, seed=1, fused=fused
    )
    eager, fused = make(False), make(True)
    _same_rollout(eager, fused, 200, seed=6)
    assert torch.equal(eager.component, fused.component)


def test_fused_refuses_bad_actions_and_other_devices() -> None:
    world = GridWorld(SMALL, 4, seed=0, fused=True)
    world.reset()
    with pytest.raises(RuntimeError, match="action out of range"):
        world.step(torch.tensor([0, 1, 4, 2]))
    with pytest.raises(ConfigError, match="fused"):
        GridWorld(SMALL, 4, device="meta", fused=True)


def test_fused_can_be_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DISABLE_VARIABLE, "1")
    with pytest.raises(MesalabError, match=DISABLE_VARIABLE):
        fused_kernel()


def test_fused_splits_worlds_over_threads_with_the_same_results() -> None:
    """At B > 1024 the kernel runs chunks of worlds on several threads: nothing may change."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        make = lambda fused: GridWorld(DEPLOY, 2500, seed=8, fused=fused)  # noqa: E731
        assert _same_rollout(make(False), make(True), 60, seed=9) > 0
    finally:
        torch.set_num_threads(previous)
