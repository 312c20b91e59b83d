"""Gymnasium views of the batched `GridWorld`: one world as a `gymnasium.Env`, B as a `VectorEnv`.

    env = gymnasium.make("mesalab/RedDoor-deploy-v0")                 # one world
    envs = gymnasium.make_vec("mesalab/RedDoor-train-v0", num_envs=64,
                              vectorization_mode="vector_entry_point")  # the batch

Both adapters hold a `GridWorld` and convert its tensors to numpy at the boundary; the
dynamics, observations and objectives are the batched world's own. `make_vec` with the
vector entry point gives the batched world directly (same-step autoreset); the default
`SyncVectorEnv` mode wraps single-world envs and is slower.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from mesalab.envs.gridworld.distributions import DISTRIBUTIONS, get_distribution
from mesalab.envs.gridworld.render import render_ascii, render_rgb
from mesalab.envs.gridworld.spec import COLOURS, WorldSpec
from mesalab.envs.gridworld.world import GridWorld
from mesalab.gym_plugin import register


def observation_space(spec: WorldSpec, obs_mode: str) -> spaces.Box:
    """The Box of one world's observation: `symbolic` float32 `(C, H, W)` in [0, 1], or
    `pixels` uint8 `(3, 5H, 5W)`."""
    probe = GridWorld(spec, batch_size=1, obs_mode=obs_mode, autoreset=False)
    shape = probe.observation_shape
    if obs_mode == "pixels":
        return spaces.Box(0, 255, shape=shape, dtype=np.uint8)
    return spaces.Box(0.0, 1.0, shape=shape, dtype=np.float32)


def oversight_marks(world: GridWorld, index: int) -> dict[str, Any]:
    """`restricted` and `watched` of world `index` for the renderers; empty without an overseer."""
    if "restricted" not in world.tags:
        return {}
    return {"restricted": int(world.tags["restricted"][index]), "watched": bool(world.tags["watched"][index])}


def _resolve(distribution: str | WorldSpec) -> WorldSpec:
    return distribution if isinstance(distribution, WorldSpec) else get_distribution(distribution)


def _colour_name(index: int) -> str:
    return COLOURS[index] if index >= 0 else "none"


class RedDoorEnv(gymnasium.Env[np.ndarray, np.int64]):
    """One maze of a red-door distribution, as a Gymnasium environment.

    Description: a perfect maze with one exit door at a dead end and, in some
    distributions, coloured objects off the start-to-exit path.
    Action Space: `Discrete(4)`: 0 up, 1 right, 2 down, 3 left; moves into walls stay put.
    Observation: `symbolic` float32 `(8, H, W)` channels wall, agent, door, object, red,
    blue, green, yellow; or `pixels` uint8 `(3, 5H, 5W)`.
    Rewards: 1 on reaching the exit (the base objective), else 0.
    Termination: reaching any target (the exit or an object). Truncation: `max_steps`.
    Info: `reached` (target slot, 0 the exit, -1 none), `reached_colour` (a colour name or
    "none"), `steps`, and `objectives`: every registered objective's reward for the step.
    Registered Configurations: `mesalab/RedDoor-{train,deploy,diverse,blue-exit,red-objects}-v0`.

    `reset(seed=s)` starts world 0 of `GridWorld(spec, 1, seed=s)`; a reset without a seed
    starts that world's next episode.
    """

    # a class attribute, as Gymnasium reads it before constructing the env
    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 8}  # noqa: RUF012

    def __init__(
        self,
        distribution: str | WorldSpec = "red-door/train",
        obs_mode: str = "symbolic",
        render_mode: str | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.spec_config = _resolve(distribution)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.obs_mode, self.render_mode, self.device = obs_mode, render_mode, torch.device(device)
        self.observation_space = observation_space(self.spec_config, obs_mode)
        self.action_space = spaces.Discrete(4)
        self.world: GridWorld | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None or self.world is None:
            world_seed = seed if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
            self.world = GridWorld(
                self.spec_config,
                1,
                seed=world_seed,
                obs_mode=self.obs_mode,
                device=self.device,
                autoreset=False,
            )
            obs = self.world.reset()
        else:
            self.world.episode += 1
            self.world.reset_worlds(torch.zeros(1, dtype=torch.int64, device=self.device))
            obs = self.world.obs
        return obs[0].cpu().numpy().copy(), {"steps": 0}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self.world is None:
            raise RuntimeError("call reset() before step()")
        actions = torch.as_tensor(np.asarray(action, dtype=np.int64).reshape(1), device=self.device)
        obs, reward, terminated, truncated, info = self.world.step(actions)
        objectives = info["objectives"][0].cpu().tolist()
        out_info = {
            "reached": int(info["reached"][0]),
            "reached_colour": _colour_name(int(info["reached_colour"][0])),
            "steps": int(info["steps"][0]),
            "objectives": dict(zip(self.world.objective_names, objectives, strict=True)),
        }
        if "terms" in info:  # worlds with an overseer: the per-step terms of the reward
            out_info["terms"] = dict(zip(self.world.term_names, info["terms"][0].cpu().tolist(), strict=True))
        return (
            obs[0].cpu().numpy().copy(),
            float(reward[0]),
            bool(terminated[0]),
            bool(truncated[0]),
            out_info,
        )

    def render(self) -> str | np.ndarray | None:  # type: ignore[override]
        if self.world is None or self.render_mode is None:
            return None
        marks = oversight_marks(self.world, 0)
        if self.render_mode == "ansi":
            return render_ascii(self.world.state, 0, **marks)
        return render_rgb(self.world.state, 0, **marks)


class RedDoorVectorEnv(VectorEnv):
    """B mazes of a red-door distribution as a Gymnasium `VectorEnv`: the batched world itself.

    Autoreset is same-step: when a world finishes, the returned observation is already
    the next episode's first, and `info["final_obs"]` (an object array, `None` where not
    done, with mask `info["_final_obs"]`) holds the last observation of the finished one.
    Info arrays: `reached`, `reached_colour` (int index, -1 none), `steps`, and
    `objectives` (a dict of `(B,)` float arrays, one per registered objective).
    """

    metadata = {  # noqa: RUF012  (a class attribute, as in Gymnasium)
        "render_modes": ["ansi", "rgb_array"],
        "autoreset_mode": AutoresetMode.SAME_STEP,
    }

    def __init__(
        self,
        num_envs: int,
        distribution: str | WorldSpec = "red-door/train",
        obs_mode: str = "symbolic",
        render_mode: str | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.spec_config = _resolve(distribution)
        self.num_envs, self.obs_mode, self.render_mode = num_envs, obs_mode, render_mode
        self.device = torch.device(device)
        # build once here so a bad num_envs fails at construction with the world's message
        self.world = GridWorld(self.spec_config, num_envs, obs_mode=obs_mode, device=self.device)
        self.single_observation_space = observation_space(self.spec_config, obs_mode)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.single_action_space = spaces.Discrete(4)
        self.action_space = batch_space(self.single_action_space, num_envs)

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if isinstance(seed, list):
            if len(set(seed)) != 1:
                raise ValueError(
                    "seeds are per batch: pass one int (world i's episodes derive from it and i)"
                )
            seed = seed[0]
        super().reset(seed=seed)
        world_seed = seed if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
        self.world = GridWorld(
            self.spec_config, self.num_envs, seed=world_seed, obs_mode=self.obs_mode, device=self.device
        )
        return self.world.reset().cpu().numpy().copy(), {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        acts = torch.as_tensor(np.asarray(actions, dtype=np.int64).reshape(self.num_envs), device=self.device)
        obs, reward, terminated, truncated, info = self.world.step(acts)
        objectives = info["objectives"].cpu().numpy()
        out: dict[str, Any] = {
            "reached": info["reached"].cpu().numpy(),
            "reached_colour": info["reached_colour"].cpu().numpy(),
            "steps": info["steps"].cpu().numpy(),
            "objectives": {name: objectives[:, k] for k, name in enumerate(self.world.objective_names)},
        }
        if "terms" in info:
            terms = info["terms"].cpu().numpy()
            out["terms"] = {name: terms[:, k] for k, name in enumerate(self.world.term_names)}
        if "final_index" in info:
            final_obs = np.full(self.num_envs, None, dtype=object)
            mask = np.zeros(self.num_envs, dtype=bool)
            final = info["final_obs"].cpu().numpy()
            for row, world in enumerate(info["final_index"].cpu().tolist()):
                final_obs[world] = final[row]
                mask[world] = True
            out["final_obs"], out["_final_obs"] = final_obs, mask
        return (
            obs.cpu().numpy().copy(),
            reward.cpu().numpy().astype(np.float64),
            terminated.cpu().numpy(),
            truncated.cpu().numpy(),
            out,
        )

    def render(self) -> tuple[Any, ...] | None:
        if self.render_mode is None:
            return None
        draw = render_ascii if self.render_mode == "ansi" else render_rgb
        return tuple(
            draw(self.world.state, i, **oversight_marks(self.world, i)) for i in range(self.num_envs)
        )


def register_gym_envs() -> list[str]:
    """Register every version of every world distribution with Gymnasium; returns the ids.

    Importing `mesalab.envs.gridworld` calls it; call it again after registering more
    distributions to add theirs (ids already registered are left as they are). Worlds with
    per-step terms (the oversight worlds) are symbolic only.
    """
    return register(gymnasium, DISTRIBUTIONS.ids())
