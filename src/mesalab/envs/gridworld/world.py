"""`GridWorld`: B mazes stepped at once as tensors, with auto-reset, on CPU or CUDA.

    world = GridWorld(DISTRIBUTIONS["red-door/train"], batch_size=4096, seed=0)
    obs = world.reset()                                   # (B, C, H, W)
    obs, reward, terminated, truncated, info = world.step(actions)

Each world has an id; its k-th episode is drawn from `(seed, world id, k)` alone, so
world i of a batch of 64 is the same as world i stepped alone (`world_ids=[i]`).
`step` returns the world's observation buffer itself, updated in place (valid until the
next step; `.clone()` it to keep it), as Gymnasium's vector envs do with `copy=False`.

Speed: a step is a fixed handful of batched ops (or one compiled pass, `fused.py`). Every
world's next episodes are built ahead in bulk (`ahead.py`), so an auto-reset only copies a
few rows; the start, targets and colours of every world live in one int64 tensor beside the
per-cell lookup the step uses (`buffers.py`), so starting episodes copies one block.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from mesalab.config import check, check_choice
from mesalab.envs.gridworld.ahead import AHEAD, DRAW_KEYS, EpisodesAhead, episode_state
from mesalab.envs.gridworld.buffers import STATE_FIELDS, StateBuffers, colour_map
from mesalab.envs.gridworld.fused import fused_kernel
from mesalab.envs.gridworld.layouts import layout_bank, symmetry_permutations
from mesalab.envs.gridworld.objectives import BASE_OBJECTIVE, candidate_names
from mesalab.envs.gridworld.observations import make_observer
from mesalab.envs.gridworld.oracle import MOVES
from mesalab.envs.gridworld.oversight import STEP_TERMS, Oversight
from mesalab.envs.gridworld.spec import OBS_MODES, WorldSpec
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
    State: `state` is a `GridState` whose tensors the world updates in place; load another
    state with `set_state`, never by assigning its fields.
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
        fused: bool = False,
    ) -> None:
        check(batch_size > 0, "batch_size", f"must be positive, got {batch_size}", "1, 2, ...")
        check_choice(obs_mode, "obs_mode", OBS_MODES)
        check(
            not spec.shortcut or obs_mode == "symbolic",
            "obs_mode",
            "a world with an overseer has symbolic observations only (pixels draw no overseer)",
            "symbolic",
        )
        check(
            not fused or not spec.has_step_terms,
            "fused",
            "the fused step pays terminal rewards only; this world has per-step terms",
            "fused=False (the eager step)",
        )
        check(
            not fused or torch.device(device).type == "cpu",
            "fused",
            f"the fused step is a CPU kernel, not for device {device}",
            "fused=False on other devices",
        )
        _check_memory(spec, batch_size, obs_mode)
        self.spec, self.seed, self.obs_mode, self.autoreset = spec, seed, obs_mode, autoreset
        self.batch_size, self.device = batch_size, torch.device(device)
        ids = torch.arange(batch_size) if world_ids is None else torch.as_tensor(world_ids)
        check(ids.shape == (batch_size,), "world_ids", f"must have one id per world ({batch_size})")
        self.world_ids = ids.to(self.device, torch.int64)
        self._keys = world_keys(seed, "world", self.world_ids)
        self._bank = layout_bank(spec, self.device)
        self._symmetric_cell = symmetry_permutations(spec.size, self.device).view(-1)
        """`s * H*W + c`: where cell c goes under symmetry s."""
        self._oversight = (
            Oversight(spec, self._bank, self._symmetric_cell, self.device) if spec.shortcut else None
        )
        """The overseer and restricted cells (worlds with a shortcut), else None."""
        self._prepare_draws()
        self.objective_names = candidate_names()
        self._base_column = self.objective_names.index(BASE_OBJECTIVE)
        self.observer = make_observer(obs_mode, batch_size, spec.size, self.device, spec.channels)
        self.episode = torch.zeros(batch_size, dtype=torch.int64, device=self.device)
        self._buffers = StateBuffers(spec, batch_size, len(self.objective_names), self.device)
        self.state = self._buffers.state
        self._all = torch.arange(batch_size, device=self.device)
        self._pays_rows = self._all * (spec.num_targets + 1)
        self._deltas = torch.tensor([dr * spec.size + dc for dr, dc in MOVES], device=self.device)
        self._ones = torch.ones(batch_size, dtype=torch.int64, device=self.device)
        slots = torch.arange(spec.num_targets + 1, device=self.device)
        self._slot_or_none = torch.where(slots < spec.num_targets, slots, NO_TARGET)
        self.tags: dict[str, torch.Tensor] = {}
        """Per-world labels of the current episode that are not part of the state
        (`MixtureWorld` keeps the component it was drawn from), `(B,)` each."""
        self._ahead = EpisodesAhead(batch_size, self.device)
        self._kernel = fused_kernel() if fused else None
        """The compiled step (`fused.py`), or None for the eager one."""

    @property
    def channels(self) -> tuple[str, ...]:
        """Observation channel names."""
        return tuple(self.observer.channels)

    @property
    def term_names(self) -> tuple[str, ...]:
        """Names of the per-step terms in `info["terms"]`; empty for a world without them."""
        return STEP_TERMS if self._oversight is not None else ()

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
        """Start episode `self.episode[index]` in the worlds at `index`.

        When a world's next episode is already built (the common case under auto-reset) this
        copies its rows; otherwise the episode is built now.
        """
        self._ahead.used_since_refill += index.shape[0]
        if self._kernel is not None and self.obs_mode == "symbolic":
            self._fused_start(index)
            return
        episodes = self.episode.index_select(0, index)
        rows = self._ahead.rows(index, episodes)
        stale = self._ahead.ready_episode.index_select(0, rows) != episodes
        if bool(stale.any()):
            self._build_ahead(index[stale], episodes[stale])
        self._install(index, rows)
        self._ahead.ready_episode.index_fill_(0, rows, -1)

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
        s, buffers = self.state, self._buffers
        loaded = {name: getattr(state, name).to(self.device, getattr(s, name).dtype) for name in STATE_FIELDS}
        rows = self._episode_rows(GridState(size=state.size, **loaded))
        buffers.ints.copy_(rows.pop("ints"))
        buffers.cells.copy_(rows.pop("cells"))
        for name in ("walls", "start_dist", "agent", "steps"):
            getattr(s, name).copy_(loaded[name])
        buffers.pays.copy_(rows.pop("pays"))
        self.observer.start_episodes(self._all, s.agent, s.walls, rows)
        if self._oversight is not None:
            # who watches and where the restricted cell is derive from (seed, world, episode), so
            # a restored checkpoint gets its episodes' tags back without storing them
            draws = self._episode_draws(self._all, self.episode)
            for name in ("watched", "restricted"):
                self.tags.setdefault(name, torch.zeros_like(draws[name])).copy_(draws[name])
            self._oversight.paint(self.observer.buffer, self._all, self.tags)
        return self.observer.buffer

    def step(self, actions: torch.Tensor) -> StepResult:
        """Move every world by one action `(B,)` int64; auto-reset the finished ones."""
        if self._kernel is not None:
            return self._fused_step(actions)
        s, num_targets, buffers = self.state, self.spec.num_targets, self._buffers
        before = s.agent
        proposed = before + self._deltas.index_select(0, actions)
        # one gather says what the move runs into: a target slot, floor (T) or wall (T + 1)
        code = buffers.cells.gather(1, proposed[:, None]).squeeze(1)
        s.agent = torch.where(code > num_targets, before, proposed)
        s.steps += 1
        self.observer.move_agent(before, s.agent)
        slot = code.clamp_max(num_targets).long()  # T: no target reached
        terminated = slot < num_targets
        truncated = (slot == num_targets) & (s.steps >= self.spec.max_steps)
        # row (world, slot) of the flattened pays-table; index_select beats 2-D advanced indexing
        objectives = buffers.pays.view(-1, buffers.pays.shape[2]).index_select(0, self._pays_rows + slot)
        info: dict[str, Any] = {
            "reached": self._slot_or_none.index_select(0, slot),
            "reached_colour": buffers.colour_or_none.gather(1, slot[:, None]).squeeze(1),
            "steps": s.steps.clone(),
            "objectives": objectives,
        }
        reward = objectives[:, self._base_column]
        if self._oversight is not None:  # per-step terms: read before an auto-reset moves the agent
            info["terms"] = self._oversight.terms(before, s.agent, self.tags)
            reward = reward + info["terms"] @ self._oversight.weights
        done = terminated | truncated
        finished = None
        if self.autoreset and bool(done.any()):
            finished = done.nonzero().squeeze(1)
            self.episode.index_add_(0, finished, self._ones[: finished.shape[0]])
        self._end_step(finished, info)
        return self.observer.buffer, reward, terminated, truncated, info

    # ---- internals -----------------------------------------------------------------
    def _end_step(self, finished: torch.Tensor | None, info: dict[str, Any]) -> None:
        """Start the next episode of the `finished` worlds (their counters already moved on),
        recording their final observations; then refill the episodes built ahead if due."""
        if finished is not None:
            info["final_index"] = finished
            # index_select: a copy, ~5x faster than [index]
            info["final_obs"] = self.observer.buffer.index_select(0, finished)
            self.reset_worlds(finished)
        if self._ahead.refill_due():
            self._refill()

    def _fused_step(self, actions: torch.Tensor) -> StepResult:
        """`step` through the compiled kernel: the same results, one pass over the worlds."""
        s, batch, buffers = self.state, self.batch_size, self._buffers
        assert self._kernel is not None
        symbolic = self.obs_mode == "symbolic"
        empty = torch.empty(0)
        new = functools.partial(torch.empty, batch, dtype=torch.int64)
        before, reached, colour, steps, finished = new(), new(), new(), new(), new()
        objectives = torch.empty(batch, buffers.pays.shape[2])
        terminated = torch.empty(batch, dtype=torch.bool)
        truncated = torch.empty(batch, dtype=torch.bool)
        area = self.spec.size**2
        done_count = self._kernel.fused_step(
            actions.to(torch.int64).contiguous(), s.agent, s.steps, buffers.ints,
            buffers.cells, buffers.layout.colour_or_none.start, self._deltas, buffers.pays,
            self.spec.max_steps, self.spec.num_targets,
            self.observer.buffer if symbolic else empty, len(self.channels) * area, area,
            before, objectives, reached, colour, steps, terminated, truncated,
            self.autoreset, self.episode, finished,
        )  # fmt: skip
        if not symbolic:
            self.observer.move_agent(before, s.agent)
        info: dict[str, Any] = {
            "reached": reached,
            "reached_colour": colour,
            "steps": steps,
            "objectives": objectives,
        }
        self._end_step(finished[:done_count] if self.autoreset and done_count else None, info)
        return self.observer.buffer, objectives[:, self._base_column], terminated, truncated, info

    def _build_ahead(self, index: torch.Tensor, episodes: torch.Tensor) -> None:
        """Build episode `episodes` `(N,)` of the worlds at `index` `(N,)` ahead of its start."""
        draws = self._episode_draws(index, episodes)
        fresh = episode_state(self.spec, self._bank, self._symmetric_cell, draws)
        rows = self._episode_rows(fresh)
        rows["walls"], rows["start_dist"] = fresh.walls, fresh.start_dist
        rows.update({f"tag.{k}": v for k, v in draws.items() if k not in DRAW_KEYS})
        self._ahead.store(index, episodes, rows, self.tags)

    def _install(self, index: torch.Tensor, ahead_rows: torch.Tensor) -> None:
        """Start the episodes built ahead in rows `ahead_rows` of `_ahead.next` in the worlds at `index`."""
        s = self.state
        rows = {name: value.index_select(0, ahead_rows) for name, value in self._ahead.next.items()}
        for name, buffer in self._current_pairs().items():
            buffer.index_copy_(0, index, rows[name] if name == "walls" else rows.pop(name))
        s.agent.index_copy_(0, index, s.start.index_select(0, index))
        s.steps.index_fill_(0, index, 0)
        self.observer.start_episodes(index, s.agent.index_select(0, index), rows.pop("walls"), rows)
        if self._oversight is not None:
            self._oversight.paint(self.observer.buffer, index, self.tags)

    def _fused_start(self, index: torch.Tensor) -> None:
        """`reset_worlds` through the compiled kernel (symbolic observations)."""
        assert self._kernel is not None
        s, ahead = self.state, self._ahead
        stale = torch.empty(index.shape[0], dtype=torch.int64)
        for _ in range(2):
            if not ahead.next:  # nothing built yet: the kernel finds every row stale
                missing = stale.copy_(torch.arange(index.shape[0])).shape[0]
            else:
                pairs = self._current_pairs()
                missing = self._kernel.fused_start(
                    index, self.episode, ahead.ready_episode, AHEAD,
                    [ahead.next[name] for name in pairs], list(pairs.values()),
                    self._buffers.ints, s.agent, s.steps, self.observer.buffer,
                    len(self.channels) * self.spec.size**2, s.walls, ahead.next["obs.ones"], stale,
                )  # fmt: skip
            if not missing:
                return
            rebuild = index.index_select(0, stale[:missing])
            self._build_ahead(rebuild, self.episode.index_select(0, rebuild))
        raise AssertionError("episodes built ahead were not found after building them")

    def _current_pairs(self) -> dict[str, torch.Tensor]:
        """Built-ahead name -> the current buffer its rows are copied into (all but observer rows);
        both episode starts (`_install`, the fused kernel) copy through this one list."""
        s, buffers = self.state, self._buffers
        pairs = {"ints": buffers.ints, "cells": buffers.cells, "pays": buffers.pays}
        pairs.update(walls=s.walls, start_dist=s.start_dist)
        pairs.update({f"tag.{name}": tag for name, tag in self.tags.items()})
        return pairs

    def _refill(self) -> None:
        """Build each world's next `AHEAD` episodes that are not built yet, in one call."""
        index, episodes = self._ahead.missing(self.episode, self._all)
        if index.shape[0]:
            self._build_ahead(index, episodes)

    def _episode_rows(self, state: GridState) -> dict[str, torch.Tensor]:
        """The int block, the pays-table and the observer's rows of `state`'s worlds."""
        rows = self._buffers.rows(state, self.objective_names)
        rows.update(self.observer.episode_rows(state))
        return rows

    def _episode_draws(self, index: torch.Tensor, episodes: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every random choice of episode `episodes` `(N,)` of the worlds at `index` `(N,)`.

        Draw k is `hash32(base + k * 0x9E3779B1) % n_k`; all draws of a world are hashed in
        one `(N, K)` op (per-draw calls were most of the reset's cost at large B).
        """
        spec = self.spec
        base = hash32(self._keys[index] ^ hash32(episodes * 4099 + 17))
        draws = hash32(base[:, None] + self._draw_offsets[None]) % self._draw_moduli[None]
        out = {
            "layout": draws[:, 0],
            "symmetry": draws[:, 1],
            "num_objects": spec.min_objects + draws[:, 2],
            "colours": torch.cat([self._exit_map[draws[:, 3:4]], self._object_map[draws[:, 4:]]], dim=1),
        }
        if self._oversight is not None:  # episode tags: who watches, where the restricted cell is
            out.update(self._oversight.draws(base, out["layout"], out["symmetry"]))
        return out

    def _prepare_draws(self) -> None:
        """Constants of `_episode_draws`: draw k's offset and range, and the colour maps."""
        spec = self.spec
        moduli = [spec.num_layouts, 8, spec.max_objects - spec.min_objects + 1, len(spec.exit_colours)]
        moduli += [max(len(spec.object_colours), 1)] * spec.max_objects
        self._draw_offsets = torch.arange(len(moduli), device=self.device) * 0x9E3779B1
        self._draw_moduli = torch.tensor(moduli, dtype=torch.int64, device=self.device)
        self._exit_map = colour_map(spec.exit_colours, self.device)
        self._object_map = colour_map(spec.object_colours or ("red",), self.device)


def _check_memory(spec: WorldSpec, batch_size: int, obs_mode: str) -> None:
    """Refuse a world whose tensors would pass the memory budget, before allocating them:
    per world its observation and a few int64 state planes; per layout 9 boolean grids."""
    from mesalab.envs.gridworld.observations import SPRITE
    from mesalab.limits import check_bytes

    cells = spec.size * spec.size
    per_world = cells * (3 * SPRITE * SPRITE if obs_mode == "pixels" else 4 * len(spec.channels) + 32)
    check_bytes(batch_size * per_world, "batch_size", f"{batch_size} worlds of {spec.size}x{spec.size}")
    check_bytes(
        spec.num_layouts * cells * 9, "num_layouts", f"{spec.num_layouts} layouts of {spec.size}x{spec.size}"
    )
