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
        self._prepare_draws()
        self.objective_names = candidate_names()
        self._base_column = self.objective_names.index(BASE_OBJECTIVE)
        self.observer = make_observer(obs_mode, batch_size, spec.size, self.device)
        self.episode = torch.zeros(batch_size, dtype=torch.int64, device=self.device)
        self.state = self._empty_state()
        self._pays = torch.zeros(
            batch_size, spec.num_targets + 1, len(self.objective_names), device=self.device
        )
        self._all = torch.arange(batch_size, device=self.device)
        self._pays_rows = self._all * (spec.num_targets + 1)

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
        self._pays.index_copy_(0, index, pays_table(fresh, self.objective_names))
        # index_copy_ rather than `x[index] = ...`: the same rows written, a faster kernel
        s = self.state
        for name in ("walls", "agent", "start", "targets", "colours", "start_dist", "steps"):
            getattr(s, name).index_copy_(0, index, getattr(fresh, name))

    def set_state(self, state: GridState) -> torch.Tensor:
        """Load a hand-written state into every world (rows copied) and return the observation.

        Observations and the objective pays-table are rebuilt from `state`; episode
        counters are kept, so an auto-reset after it draws the world's next episode.
        """
        check(state.size == self.spec.size, "state.size", f"must be {self.spec.size}, got {state.size}")
        check(state.batch_size == self.batch_size, "state", f"must hold {self.batch_size} worlds")
        check(
            tuple(state.targets.shape) == (self.batch_size, self.spec.num_targets),
            "state.targets",
            f"must have shape ({self.batch_size}, {self.spec.num_targets}), got {tuple(state.targets.shape)}",
        )
        loaded = state.clone()
        for name in ("walls", "agent", "start", "targets", "colours", "start_dist", "steps"):
            # the world's own dtypes, so that later in-place resets of these rows type-check
            dtype = getattr(self.state, name).dtype
            setattr(loaded, name, getattr(loaded, name).to(self.device, dtype))
        self.state = loaded
        self.observer.rebuild(self._all, self.state)
        self._pays[:] = pays_table(self.state, self.objective_names)
        return self.observer.buffer

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
        # row (world, slot) of the flattened pays-table; index_select beats 2-D advanced indexing
        objectives = self._pays.view(-1, self._pays.shape[2]).index_select(0, self._pays_rows + slot)
        info: dict[str, Any] = {
            "reached": reached,
            "reached_colour": s.colours.gather(1, reached.clamp_min(0)[:, None])
            .squeeze(1)
            .where(terminated, -1),
            "steps": s.steps.clone(),
            "objectives": objectives,
        }
        done = terminated | truncated
        if self.autoreset and bool(done.any()):
            index = done.nonzero().squeeze(1)
            info["final_index"] = index
            info["final_obs"] = self.observer.buffer.index_select(0, index)  # a copy, ~5x faster than [index]
            self.episode[index] += 1
            self.reset_worlds(index)
        return self.observer.buffer, objectives[:, self._base_column], terminated, truncated, info

    # ---- internals -----------------------------------------------------------------
    def _episode_draws(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every random choice of an episode from `(world key, episode)`, for the worlds at `index`.

        Draw k is `hash32(base + k * 0x9E3779B1) % n_k`; all draws of a world are hashed in
        one `(N, K)` op (per-draw calls were most of the reset's cost at large B).
        """
        spec = self.spec
        base = hash32(self._keys[index] ^ hash32(self.episode[index] * 4099 + 17))
        draws = hash32(base[:, None] + self._draw_offsets[None]) % self._draw_moduli[None]
        return {
            "layout": draws[:, 0],
            "symmetry": draws[:, 1],
            "num_objects": spec.min_objects + draws[:, 2],
            "colours": torch.cat([self._exit_map[draws[:, 3:4]], self._object_map[draws[:, 4:]]], dim=1),
        }

    def _prepare_draws(self) -> None:
        """Constants of `_episode_draws`: draw k's offset and range, and the colour maps."""
        spec = self.spec
        moduli = [spec.num_layouts, 8, spec.max_objects - spec.min_objects + 1, len(spec.exit_colours)]
        moduli += [max(len(spec.object_colours), 1)] * spec.max_objects
        self._draw_offsets = torch.arange(len(moduli), device=self.device) * 0x9E3779B1
        self._draw_moduli = torch.tensor(moduli, dtype=torch.int64, device=self.device)
        self._exit_map = _colour_map(spec.exit_colours, self.device)
        self._object_map = _colour_map(spec.object_colours or ("red",), self.device)

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
