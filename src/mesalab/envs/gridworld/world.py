"""`GridWorld`: B mazes stepped at once as tensors, with auto-reset, on CPU or CUDA.

    world = GridWorld(DISTRIBUTIONS["red-door/train"], batch_size=4096, seed=0)
    obs = world.reset()                                   # (B, C, H, W)
    obs, reward, terminated, truncated, info = world.step(actions)

Each world has an id; its k-th episode is drawn from `(seed, world id, k)` alone, so
world i of a batch of 64 is the same as world i stepped alone (`world_ids=[i]`).
`step` returns the world's observation buffer itself, updated in place (valid until the
next step; `.clone()` it to keep it), as Gymnasium's vector envs do with `copy=False`.
"""

from __future__ import annotations

from typing import Any

import torch

from mesalab.config import check, check_choice
from mesalab.envs.gridworld.layouts import layout_bank, symmetry_permutations
from mesalab.envs.gridworld.objectives import BASE_OBJECTIVE, candidate_names, pays_table
from mesalab.envs.gridworld.observations import make_observer
from mesalab.envs.gridworld.spec import COLOURS, OBS_MODES, WorldSpec
from mesalab.envs.gridworld.state import NO_TARGET, GridState
from mesalab.seeding import hash32, world_keys

StepResult = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]


class GridWorld:
    """A batch of worlds drawn from one `WorldSpec`.

    Description: perfect mazes; the exit door sits at a dead end, objects off the path.
    Action space: 0 up, 1 right, 2 down, 3 left; a move into a wall stays put.
    Observation: `symbolic` `(B, 8, H, W)` float channels `channels`, or `pixels`
    `(B, 3, 5H, 5W)` uint8 sprites.
    Rewards: the base objective `exit` pays 1 on reaching the exit; `info["objectives"]`
    holds every registered objective's reward for the step, `(B, O)`, in `objective_names`.
    Termination: reaching any target (exit or object); truncation at `spec.max_steps`.
    Info: `reached` (slot, -1 none; 0 is the exit), `reached_colour`, `steps`,
    `objectives`, and on auto-reset `final_index` with `final_obs` (rows for those worlds).
    """

    def __init__(
        self,
        spec: WorldSpec,
        batch_size: int,
        seed: int = 0,
        obs_mode: str = "symbolic",
        device: str | torch.device = "cpu",
        autoreset: bool = True,
        world_ids: torch.Tensor | list[int] | None = None,
    ) -> None:
        check(batch_size > 0, "batch_size", f"must be positive, got {batch_size}", "1, 2, ...")
        check_choice(obs_mode, "obs_mode", OBS_MODES)
        self.spec, self.seed, self.obs_mode, self.autoreset = spec, seed, obs_mode, autoreset
        self.batch_size, self.device = batch_size, torch.device(device)
        ids = torch.arange(batch_size) if world_ids is None else torch.as_tensor(world_ids)
        check(ids.shape == (batch_size,), "world_ids", f"must have one id per world ({batch_size})")
        self.world_ids = ids.to(self.device, torch.int64)
        self._keys = world_keys(seed, "world", self.world_ids)
        self._bank = layout_bank(spec, self.device)
        self._symmetries = symmetry_permutations(spec.size, self.device)
        self._inverse = self._symmetries.argsort(1)
        self.objective_names = candidate_names()
        self._base_column = self.objective_names.index(BASE_OBJECTIVE)
        self.observer = make_observer(obs_mode, batch_size, spec.size, self.device)
        self.episode = torch.zeros(batch_size, dtype=torch.int64, device=self.device)
        self.state = self._empty_state()
        self._pays = torch.zeros(batch_size, spec.num_targets + 1, len(self.objective_names), device=self.device)
        self._all = torch.arange(batch_size, device=self.device)

    @property
    def channels(self) -> tuple[str, ...]:
        """Observation channel names."""
        return tuple(self.observer.channels)

    @property
    def observation_shape(self) -> tuple[int, ...]:
        return self.observer.shape

    @property
    def obs(self) -> torch.Tensor:
        """The current observation buffer, `(B, *observation_shape)`."""
        return self.observer.buffer

    def reset(self) -> torch.Tensor:
        """Start episode 0 in every world and return the observation buffer."""
        self.episode.zero_()
        self.reset_worlds(self._all)
        return self.observer.buffer

    def reset_worlds(self, index: torch.Tensor) -> None:
        """Start the next episode (`self.episode[index]`) in the worlds at `index`."""
        draws = self._episode_draws(index)
        self._bank.ensure(draws["layout"])
        sym, inv = self._symmetries[draws["symmetry"]], self._inverse[draws["symmetry"]]
        layout = draws["layout"]
        walls = self._bank.walls[layout].gather(1, inv)
        start = sym.gather(1, self._bank.start[layout][:, None]).squeeze(1)
        raw_targets = self._bank.targets[layout]
        slot = torch.arange(self.spec.num_targets, device=self.device)
        present = (slot[None] == 0) | (slot[None] <= draws["num_objects"][:, None])
        targets = torch.where(present, sym.gather(1, raw_targets), NO_TARGET)
        colours = torch.where(present, draws["colours"], NO_TARGET)
        fresh = GridState(
            size=self.spec.size,
            walls=walls,
            agent=start,
            start=start.clone(),
            targets=targets,
            colours=colours,
            start_dist=self._bank.start_dist[layout],
            steps=torch.zeros_like(start),
        )
        self.observer.rebuild(index, fresh)
        self._pays[index] = pays_table(fresh, self.objective_names)
        s = self.state
        s.walls[index], s.agent[index], s.start[index] = fresh.walls, fresh.agent, fresh.start
        s.targets[index], s.colours[index] = fresh.targets, fresh.colours
        s.start_dist[index], s.steps[index] = fresh.start_dist, fresh.steps

    def step(self, actions: torch.Tensor) -> StepResult:
        """Move every world by one action `(B,)` int64; auto-reset the finished ones."""
        s = self.state
        before = s.agent
        s.move(actions)
        self.observer.move_agent(before, s.agent)
        reached = s.reached()
        terminated = reached != NO_TARGET
        truncated = ~terminated & (s.steps >= self.spec.max_steps)
        slot = torch.where(terminated, reached, self.spec.num_targets)
        objectives = self._pays[self._all, slot]
        info: dict[str, Any] = {
            "reached": reached,
            "reached_colour": s.colours.gather(1, reached.clamp_min(0)[:, None]).squeeze(1).where(terminated, -1),
            "steps": s.steps.clone(),
            "objectives": objectives,
        }
        done = terminated | truncated
        if self.autoreset and bool(done.any()):
            index = done.nonzero().squeeze(1)
            info["final_index"] = index
            info["final_obs"] = self.observer.buffer[index].clone()
            self.episode[index] += 1
            self.reset_worlds(index)
        return self.observer.buffer, objectives[:, self._base_column], terminated, truncated, info

    # ---- internals -----------------------------------------------------------------
    def _episode_draws(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every random choice of an episode from `(world key, episode)`, for the worlds at `index`."""
        spec = self.spec
        base = hash32(self._keys[index] ^ hash32(self.episode[index] * 4099 + 17))

        def draw(k: int, n: int) -> torch.Tensor:
            return hash32(base + k * 0x9E3779B1) % n

        counts = torch.as_tensor(spec.max_objects - spec.min_objects + 1, device=self.device)
        colours = [draw(3, len(spec.exit_colours))]
        exit_map = _colour_map(spec.exit_colours, self.device)
        object_map = _colour_map(spec.object_colours or ("red",), self.device)
        columns = [exit_map[colours[0]]]
        for k in range(spec.max_objects):
            columns.append(object_map[draw(4 + k, max(len(spec.object_colours), 1))])
        return {
            "layout": draw(0, spec.num_layouts),
            "symmetry": draw(1, 8),
            "num_objects": spec.min_objects + draw(2, int(counts)),
            "colours": torch.stack(columns, dim=1),
        }

    def _empty_state(self) -> GridState:
        b, area, t = self.batch_size, self.spec.size**2, self.spec.num_targets
        zeros = torch.zeros(b, dtype=torch.int64, device=self.device)
        return GridState(
            size=self.spec.size,
            walls=torch.ones(b, area, dtype=torch.bool, device=self.device),
            agent=zeros.clone(),
            start=zeros.clone(),
            targets=torch.full((b, t), NO_TARGET, dtype=torch.int64, device=self.device),
            colours=torch.full((b, t), NO_TARGET, dtype=torch.int64, device=self.device),
            start_dist=torch.zeros(b, t, dtype=torch.int32, device=self.device),
            steps=zeros.clone(),
        )


def _colour_map(names: tuple[str, ...], device: torch.device) -> torch.Tensor:
    return torch.tensor([COLOURS.index(n) for n in names], dtype=torch.int64, device=device)
