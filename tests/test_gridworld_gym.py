"""The Gymnasium adapters: check_env on every distribution, registered ids, the vector env."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import mesalab.envs.gridworld as gridworld
from mesalab.envs.gridworld import DISTRIBUTIONS, RedDoorEnv, RedDoorVectorEnv, WorldSpec, gym_adapters
from mesalab.envs.gridworld.gym_adapters import register_gym_envs
from mesalab.gym_plugin import WORLDS, gym_id
from mesalab.registry import Registry

NAMES = [name for name in DISTRIBUTIONS.names() if name.startswith(("red-door/", "oversight/"))]
CHECKS = [
    (n, mode) for n in NAMES for mode in ("symbolic", "pixels") if mode == "symbolic" or n.startswith("red")
]
"""The oversight worlds are symbolic only (pixels draw no overseer; refused, see test_oversight)."""


@pytest.mark.parametrize(("name", "obs_mode"), CHECKS)
def test_check_env_passes_without_warnings(name: str, obs_mode: str) -> None:
    # made through the registry so that check_env can also try the other render mode
    env = gymnasium.make(gym_id(name), obs_mode=obs_mode, render_mode="rgb_array").unwrapped
    assert isinstance(env, RedDoorEnv)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning fails the test
        check_env(env, skip_render_check=False)


def test_registered_ids_cover_every_distribution() -> None:
    expected = {
        "mesalab/RedDoor-train-v0",
        "mesalab/RedDoor-deploy-v0",
        "mesalab/RedDoor-diverse-v0",
        "mesalab/RedDoor-blue-exit-v0",
        "mesalab/RedDoor-red-objects-v0",
        "mesalab/Oversight-train-v0",
        "mesalab/Oversight-watched-v0",
        "mesalab/Oversight-unwatched-v0",
        "mesalab/Oversight-hidden-train-v0",
        "mesalab/Oversight-hidden-watched-v0",
        "mesalab/Oversight-hidden-unwatched-v0",
    }
    assert set(gridworld.GYM_IDS) == expected == {gym_id(n) for n in NAMES}
    assert register_gym_envs() == gridworld.GYM_IDS, "registering again is a no-op, not an error"
    for env_id in expected:
        assert env_id in gymnasium.registry


def test_every_version_of_every_distribution_is_registered(monkeypatch) -> None:
    """A world registered after import gets its id from one more `register_gym_envs()`."""
    later = Registry[WorldSpec]("distribution")
    for versioned in DISTRIBUTIONS.ids():
        name, version = DISTRIBUTIONS.resolve(versioned)
        later.register(name, DISTRIBUTIONS[versioned], version)
    later.register("red-door/train", DISTRIBUTIONS["red-door/train"].replace(size=9), version=1)
    later.register("maze", DISTRIBUTIONS["red-door/blue-exit"].replace(size=7))
    monkeypatch.setattr(gym_adapters, "DISTRIBUTIONS", later)
    monkeypatch.setattr(gym_adapters, "get_distribution", later.get)
    new = ["mesalab/RedDoor-train-v1", "mesalab/Maze-v0"]
    try:
        ids = register_gym_envs()
        assert set(ids) == set(gridworld.GYM_IDS) | set(new)
        assert gymnasium.make("mesalab/RedDoor-train-v1").unwrapped.spec_config.size == 9
        with pytest.warns(DeprecationWarning, match="out of date"):  # Gymnasium's word on versions
            assert gymnasium.make("mesalab/RedDoor-train-v0").unwrapped.spec_config.size == 11
        assert gymnasium.make("mesalab/Maze-v0").unwrapped.spec_config.size == 7
    finally:
        for env_id in new:
            gymnasium.registry.pop(env_id, None)


def test_a_fresh_interpreter_makes_every_world_with_no_import_of_mesalab() -> None:
    """The installed `mesalab-gym.pth` registers the ids when `gymnasium` is imported, and
    nothing heavier than `mesalab.gym_plugin` is loaded until a world is made."""
    code = (
        "import sys, gymnasium\n"
        "assert 'torch' not in sys.modules and 'mesalab.envs' not in sys.modules\n"
        "env = gymnasium.make('mesalab/RedDoor-deploy-v0')\n"
        "obs, info = env.reset(seed=0)\n"
        "assert obs.shape == (8, 11, 11) and info == {'steps': 0}, (obs.shape, info)\n"
        "env.step(0)\n"
        "from mesalab.envs.gridworld import DISTRIBUTIONS\n"
        "from mesalab.gym_plugin import gym_id\n"
        "missing = [n for n in DISTRIBUTIONS.names() if gym_id(n) not in gymnasium.registry]\n"
        "assert not missing, missing\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


def test_the_start_up_list_of_worlds_is_the_registry() -> None:
    """`mesalab.gym_plugin.WORLDS` is a copy (start-up must not import the worlds): pinned here."""
    assert list(WORLDS) == DISTRIBUTIONS.ids()


@pytest.mark.parametrize("name", NAMES)
def test_gymnasium_make_gives_the_distribution(name: str) -> None:
    env = gymnasium.make(gym_id(name))
    obs, info = env.reset(seed=3)
    assert env.observation_space.contains(obs) and info == {"steps": 0}
    assert env.unwrapped.spec_config == DISTRIBUTIONS[name]
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert isinstance(reward, float) and isinstance(terminated, bool) and isinstance(truncated, bool)
    terms = {"terms"} if name.startswith("oversight/") else set()
    assert set(info) == {"reached", "reached_colour", "steps", "objectives"} | terms
    assert info["steps"] == 1 and set(info["objectives"]) >= {"exit", "red", "blue"}
    env.close()


def test_single_env_episode_runs_to_its_end_and_renders() -> None:
    env = gymnasium.make("mesalab/RedDoor-deploy-v0", render_mode="ansi")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(100):
        _, reward, terminated, truncated, info = env.step(int(rng.integers(4)))
        if terminated or truncated:
            break
    assert terminated or truncated
    assert terminated == (info["reached"] >= 0)
    assert reward == info["objectives"]["exit"]
    assert "legend" in env.render()
    first, _ = env.reset(seed=0)
    again, _ = env.reset(seed=0)
    following, _ = env.reset()
    assert np.array_equal(first, again)
    assert not np.array_equal(first, following), "a reset without a seed starts the next episode"


@pytest.mark.parametrize("obs_mode", ["symbolic", "pixels"])
def test_vector_env_same_step_autoreset(obs_mode: str) -> None:
    envs = gymnasium.make_vec(
        "mesalab/RedDoor-train-v0", num_envs=8, vectorization_mode="vector_entry_point", obs_mode=obs_mode
    )
    assert isinstance(envs.unwrapped, RedDoorVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    obs, _ = envs.reset(seed=1)
    assert envs.observation_space.contains(obs) and obs.shape[0] == 8
    envs.action_space.seed(0)
    finished = 0
    for _ in range(120):
        obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
        assert obs.shape[0] == 8 and reward.shape == (8,) and not (terminated & truncated).any()
        assert info["objectives"]["exit"].shape == (8,)
        done = terminated | truncated
        if done.any():
            assert np.array_equal(info["_final_obs"], done)
            for i in np.flatnonzero(done):
                assert envs.single_observation_space.contains(info["final_obs"][i])
                assert info["steps"][i] >= 1
            finished += int(done.sum())
    assert finished >= 8, "every world finished at least one episode (max_steps is 100)"
    envs.close()


def test_vector_env_is_deterministic_given_a_seed() -> None:
    def rollout() -> list[np.ndarray]:
        envs = RedDoorVectorEnv(4, "red-door/diverse")
        out = [envs.reset(seed=9)[0]]
        rng = np.random.default_rng(1)
        for _ in range(30):
            out.append(envs.step(rng.integers(0, 4, size=4))[0])
        return out

    assert all(np.array_equal(a, b) for a, b in zip(rollout(), rollout(), strict=True))
