"""`GridWorld`: B mazes stepped at once as tensors, with auto-reset, on CPU or CUDA.

    world = GridWorld(DISTRIBUTIONS["red-door/train"], batch_size=4096, seed=0)
    obs = world.reset()                                   # (B, C, H, W)
    obs, reward, terminated, truncated, info = world.step(actions)

Each world has an id; its k-th episode is drawn from `(seed, world id, k)` alone, so
world i of a batch of 64 is the same as world i stepped alone (`world_ids=[i]`).
`step` returns the world's observation buffer itself, updated in place (valid until the
next step; `.clone()` it to keep it), as Gymnasium's vector envs do with `copy=False`.

Speed: a step is a fixed handful of batched ops. Every world's next episode is built ahead,
in bulk once B/8 of them have been used (building costs mostly per call, not per row), so
an auto-reset only copies a few rows. The start, targets and colours of every world live in
one int64 tensor with the per-cell lookup the step uses, so starting episodes copies one block.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from mesalab.config import check, check_choice
from mesalab.envs.gridworld.fused import fused_kernel
from mesalab.envs.gridworld.layouts import layout_bank, symmetry_permutations
from mesalab.envs.gridworld.objectives import BASE_OBJECTIVE, candidate_names, pays_table
from mesalab.envs.gridworld.observations import make_observer
from mesalab.envs.gridworld.oracle import MOVES
from mesalab.envs.gridworld.spec import COLOURS, OBS_MODES, WorldSpec
from mesalab.envs.gridworld.state import NO_TARGET, GridState
from mesalab.seeding import hash32, world_keys

BUILD_AHEAD_MIN_BATCH = 64
"""Below this many worlds, episodes are built when they start, not ahead (nothing to amortise)."""

AHEAD = 8
"""Episodes built ahead per world: a world may finish this many between two bulk builds
before one of its episodes has to be built on its own (a whole build call for a few rows)."""

DRAW_KEYS = ("layout", "symmetry", "num_objects", "colours")
"""What `_episode_draws` must return; further keys are episode tags (see `GridWorld.tags`)."""

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
            not fused or torch.device(device).type == "cpu",
            "fused",
            f"the fused step is a CPU kernel, not for device {device}",
            "fused=False on other devices",
        )
        self.spec, self.seed, self.obs_mode, self.autoreset = spec, seed, obs_mode, autoreset
        self.batch_size, self.device = batch_size, torch.device(device)
        ids = torch.arange(batch_size) if world_ids is None else torch.as_tensor(world_ids)
        check(ids.shape == (batch_size,), "world_ids", f"must have one id per world ({batch_size})")
        self.world_ids = ids.to(self.device, torch.int64)
        self._keys = world_keys(seed, "world", self.world_ids)
        self._bank = layout_bank(spec, self.device)
        self._symmetric_cell = symmetry_permutations(spec.size, self.device).view(-1)
        """`s * H*W + c`: where cell c goes under symmetry s."""
        self._prepare_draws()
        self.objective_names = candidate_names()
        self._base_column = self.objective_names.index(BASE_OBJECTIVE)
        self.observer = make_observer(obs_mode, batch_size, spec.size, self.device)
        self.episode = torch.zeros(batch_size, dtype=torch.int64, device=self.device)
        self._layout = _IntLayout(spec.num_targets, spec.size**2)
        self._ints = torch.zeros(batch_size, self._layout.width, dtype=torch.int64, device=self.device)
        self._cells = torch.full(
            (batch_size, spec.size**2 + 1), spec.num_targets + 1, dtype=torch.int16, device=self.device
        )
        """`(B, H*W + 1)` what each cell holds: its target slot, T for floor, T + 1 for wall (the
        last column is a sink for absent targets); int16 keeps the step's lookups in cache."""
        self.state = self._empty_state()
        self._pays = torch.zeros(
            batch_size, spec.num_targets + 1, len(self.objective_names), device=self.device
        )
        self._all = torch.arange(batch_size, device=self.device)
        self._pays_rows = self._all * (spec.num_targets + 1)
        self._deltas = torch.tensor([dr * spec.size + dc for dr, dc in MOVES], device=self.device)
        self._ones = torch.ones(batch_size, dtype=torch.int64, device=self.device)
        slots = torch.arange(spec.num_targets + 1, device=self.device)
        self._slot_or_none = torch.where(slots < spec.num_targets, slots, NO_TARGET)
        self.tags: dict[str, torch.Tensor] = {}
        """Per-world labels of the current episode that are not part of the state
        (`MixtureWorld` keeps the component it was drawn from), `(B,)` each."""
        self._next: dict[str, torch.Tensor] = {}
        """Rows of the episodes built ahead, `(AHEAD * B, ...)`: episode e of world i in row
        `(e % AHEAD) * B + i`; allocated on the first build."""
        self._ready_episode = torch.full((AHEAD * batch_size,), -1, dtype=torch.int64, device=self.device)
        """Which episode each row of `_next` holds; -1 for none."""
        self._used_since_refill = 0
        self._refill_at = batch_size // 4 if batch_size >= BUILD_AHEAD_MIN_BATCH else None
        self._kernel = fused_kernel() if fused else None
        """The compiled step (`fused.py`), or None for the eager one."""

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
        """Start episode `self.episode[index]` in the worlds at `index`.

        When a world's next episode is already built (the common case under auto-reset) this
        copies its rows; otherwise the episode is built now.
        """
        self._used_since_refill += index.shape[0]
        if self._kernel is not None and self.obs_mode == "symbolic":
            self._fused_start(index)
            return
        episodes = self.episode.index_select(0, index)
        rows = self._ahead_rows(index, episodes)
        stale = self._ready_episode.index_select(0, rows) != episodes
        if bool(stale.any()):
            self._build_ahead(index[stale], episodes[stale])
        self._install(index, rows)
        self._ready_episode.index_fill_(0, rows, -1)

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
        s = self.state
        loaded = {name: getattr(state, name).to(self.device, getattr(s, name).dtype) for name in _FIELDS}
        rows = self._episode_rows(GridState(size=state.size, **loaded))
        self._ints.copy_(rows.pop("ints"))
        self._cells.copy_(rows.pop("cells"))
        for name in ("walls", "start_dist", "agent", "steps"):
            getattr(s, name).copy_(loaded[name])
        self._pays.copy_(rows.pop("pays"))
        self.observer.start_episodes(self._all, s.agent, s.walls, rows)
        return self.observer.buffer

    def step(self, actions: torch.Tensor) -> StepResult:
        """Move every world by one action `(B,)` int64; auto-reset the finished ones."""
        if self._kernel is not None:
            return self._fused_step(actions)
        s, num_targets = self.state, self.spec.num_targets
        before = s.agent
        proposed = before + self._deltas.index_select(0, actions)
        # one gather says what the move runs into: a target slot, floor (T) or wall (T + 1)
        code = self._cells.gather(1, proposed[:, None]).squeeze(1)
        s.agent = torch.where(code > num_targets, before, proposed)
        s.steps += 1
        self.observer.move_agent(before, s.agent)
        slot = code.clamp_max(num_targets).long()  # T: no target reached
        terminated = slot < num_targets
        truncated = (slot == num_targets) & (s.steps >= self.spec.max_steps)
        # row (world, slot) of the flattened pays-table; index_select beats 2-D advanced indexing
        objectives = self._pays.view(-1, self._pays.shape[2]).index_select(0, self._pays_rows + slot)
        info: dict[str, Any] = {
            "reached": self._slot_or_none.index_select(0, slot),
            "reached_colour": self._colour_or_none.gather(1, slot[:, None]).squeeze(1),
            "steps": s.steps.clone(),
            "objectives": objectives,
        }
        done = terminated | truncated
        finished = None
        if self.autoreset and bool(done.any()):
            finished = done.nonzero().squeeze(1)
            self.episode.index_add_(0, finished, self._ones[: finished.shape[0]])
        self._end_step(finished, info)
        return self.observer.buffer, objectives[:, self._base_column], terminated, truncated, info

    # ---- internals -----------------------------------------------------------------
    def _end_step(self, finished: torch.Tensor | None, info: dict[str, Any]) -> None:
        """Start the next episode of the `finished` worlds (their counters already moved on),
        recording their final observations; then refill the episodes built ahead if due."""
        if finished is not None:
            info["final_index"] = finished
            # index_select: a copy, ~5x faster than [index]
            info["final_obs"] = self.observer.buffer.index_select(0, finished)
            self.reset_worlds(finished)
        if self._refill_at is not None and self._used_since_refill >= self._refill_at:
            self._refill()

    def _fused_step(self, actions: torch.Tensor) -> StepResult:
        """`step` through the compiled kernel: the same results, one pass over the worlds."""
        s, batch, lay = self.state, self.batch_size, self._layout
        assert self._kernel is not None
        symbolic = self.obs_mode == "symbolic"
        empty = torch.empty(0)
        new = functools.partial(torch.empty, batch, dtype=torch.int64)
        before, reached, colour, steps, finished = new(), new(), new(), new(), new()
        objectives = torch.empty(batch, self._pays.shape[2])
        terminated = torch.empty(batch, dtype=torch.bool)
        truncated = torch.empty(batch, dtype=torch.bool)
        area = self.spec.size**2
        done_count = self._kernel.fused_step(
            actions.to(torch.int64).contiguous(), s.agent, s.steps, self._ints,
            self._cells, lay.colour_or_none.start, self._deltas, self._pays,
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

    @property
    def _colour_or_none(self) -> torch.Tensor:
        """`(B, T + 1)`: each slot's colour, -1 for absent slots and for slot T (nothing)."""
        return self._ints[:, self._layout.colour_or_none]

    def _ahead_rows(self, index: torch.Tensor, episodes: torch.Tensor) -> torch.Tensor:
        """Rows of `_next` for episode `episodes` `(N,)` of the worlds at `index` `(N,)`."""
        return (episodes % AHEAD) * self.batch_size + index

    def _build_ahead(self, index: torch.Tensor, episodes: torch.Tensor) -> None:
        """Build episode `episodes` `(N,)` of the worlds at `index` `(N,)` into `_next`."""
        draws = self._episode_draws(index, episodes)
        self._bank.ensure(draws["layout"])
        layout, area = draws["layout"], self.spec.size**2
        moved = draws["symmetry"] * area  # offset of this symmetry's row of `_symmetric_cell`
        start = self._symmetric_cell.index_select(0, moved + self._bank.start.index_select(0, layout))
        slot = torch.arange(self.spec.num_targets, device=self.device)
        present = (slot[None] == 0) | (slot[None] <= draws["num_objects"][:, None])
        fresh = GridState(
            size=self.spec.size,
            walls=self._bank.symmetric_walls.index_select(
                0, draws["symmetry"] * self.spec.num_layouts + layout
            ),
            agent=start,
            start=start,
            targets=torch.where(
                present,
                self._symmetric_cell[moved[:, None] + self._bank.targets.index_select(0, layout)],
                NO_TARGET,
            ),
            colours=torch.where(present, draws["colours"], NO_TARGET),
            start_dist=self._bank.start_dist[layout],
            steps=torch.zeros_like(start),
        )
        rows = self._episode_rows(fresh)
        rows["walls"], rows["start_dist"] = fresh.walls, fresh.start_dist
        rows_at = self._ahead_rows(index, episodes)
        rows.update({f"tag.{k}": v for k, v in draws.items() if k not in DRAW_KEYS})
        for name, value in rows.items():
            if name not in self._next:
                shape = (AHEAD * self.batch_size, *value.shape[1:])
                self._next[name] = torch.zeros(shape, dtype=value.dtype, device=self.device)
                if name.startswith("tag."):
                    self.tags[name[4:]] = torch.zeros_like(value[:1]).expand(self.batch_size).clone()
            # index_copy_ rather than `x[index] = ...`: the same rows written, a faster kernel
            self._next[name].index_copy_(0, rows_at, value)
        self._ready_episode.index_copy_(0, rows_at, episodes)

    def _install(self, index: torch.Tensor, ahead_rows: torch.Tensor) -> None:
        """Start the episodes built ahead in rows `ahead_rows` of `_next` in the worlds at `index`."""
        s = self.state
        rows = {name: value.index_select(0, ahead_rows) for name, value in self._next.items()}
        for name, buffer in self._current_pairs().items():
            buffer.index_copy_(0, index, rows[name] if name == "walls" else rows.pop(name))
        s.agent.index_copy_(0, index, s.start.index_select(0, index))
        s.steps.index_fill_(0, index, 0)
        self.observer.start_episodes(index, s.agent.index_select(0, index), rows.pop("walls"), rows)

    def _fused_start(self, index: torch.Tensor) -> None:
        """`reset_worlds` through the compiled kernel (symbolic observations)."""
        assert self._kernel is not None
        s = self.state
        stale = torch.empty(index.shape[0], dtype=torch.int64)
        for _ in range(2):
            if not self._next:  # nothing built yet: the kernel finds every row stale
                missing = stale.copy_(torch.arange(index.shape[0])).shape[0]
            else:
                pairs = self._current_pairs()
                missing = self._kernel.fused_start(
                    index, self.episode, self._ready_episode, AHEAD,
                    [self._next[name] for name in pairs], list(pairs.values()),
                    self._ints, s.agent, s.steps, self.observer.buffer,
                    len(self.channels) * self.spec.size**2, s.walls, self._next["obs.ones"], stale,
                )  # fmt: skip
            if not missing:
                return
            rebuild = index.index_select(0, stale[:missing])
            self._build_ahead(rebuild, self.episode.index_select(0, rebuild))
        raise AssertionError("episodes built ahead were not found after building them")

    def _current_pairs(self) -> dict[str, torch.Tensor]:
        """Built-ahead name -> the current buffer its rows are copied into (all but observer rows);
        both episode starts (`_install`, the fused kernel) copy through this one list."""
        s = self.state
        pairs = {"ints": self._ints, "cells": self._cells, "pays": self._pays}
        pairs.update(walls=s.walls, start_dist=s.start_dist)
        pairs.update({f"tag.{name}": tag for name, tag in self.tags.items()})
        return pairs

    def _refill(self) -> None:
        """Build each world's next `AHEAD` episodes that are not built yet, in one call."""
        self._used_since_refill = 0
        indices, episodes = [], []
        for ahead in range(1, AHEAD + 1):
            wanted = self.episode + ahead
            missing = self._ready_episode.index_select(0, self._ahead_rows(self._all, wanted)) != wanted
            index = missing.nonzero().squeeze(1)
            indices.append(index)
            episodes.append(wanted.index_select(0, index))
        index = torch.cat(indices)
        if index.shape[0]:
            self._build_ahead(index, torch.cat(episodes))

    def _episode_rows(self, state: GridState) -> dict[str, torch.Tensor]:
        """The int block, the pays-table and the observer's rows of `state`'s worlds."""
        lay, num_targets = self._layout, self.spec.num_targets
        ints = torch.empty(state.batch_size, lay.width, dtype=torch.int64, device=self.device)
        ints[:, lay.start] = state.start
        ints[:, lay.targets] = state.targets
        ints[:, lay.colours] = state.colours
        ints[:, lay.colour_or_none] = torch.nn.functional.pad(state.colours, (0, 1), value=NO_TARGET)
        code = torch.nn.functional.pad(
            state.walls.to(torch.int16) + num_targets, (0, 1), value=num_targets + 1
        )
        sink = torch.full_like(state.targets, lay.area)  # absent targets write the sink column
        slots = torch.arange(num_targets, dtype=torch.int16, device=self.device).expand_as(state.targets)
        code.scatter_(1, torch.where(state.targets >= 0, state.targets, sink), slots)
        rows = {"ints": ints, "cells": code, "pays": pays_table(state, self.objective_names)}
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
        """All-wall worlds whose start, targets and colours are views into `_ints`."""
        b, area, t = self.batch_size, self.spec.size**2, self.spec.num_targets
        lay = self._layout
        return GridState(
            size=self.spec.size,
            walls=torch.ones(b, area, dtype=torch.bool, device=self.device),
            agent=torch.zeros(b, dtype=torch.int64, device=self.device),
            start=self._ints[:, lay.start],
            targets=self._ints[:, lay.targets],
            colours=self._ints[:, lay.colours],
            start_dist=torch.zeros(b, t, dtype=torch.int32, device=self.device),
            steps=torch.zeros(b, dtype=torch.int64, device=self.device),
        )


_FIELDS = ("walls", "agent", "start", "targets", "colours", "start_dist", "steps")


class _IntLayout:
    """Column ranges of the per-world int64 block: start | targets | colours | colour-or-none."""

    def __init__(self, num_targets: int, area: int) -> None:
        t = num_targets
        self.area = area
        self.start = 0
        self.targets = slice(1, 1 + t)
        self.colours = slice(1 + t, 1 + 2 * t)
        self.colour_or_none = slice(1 + 2 * t, 2 + 3 * t)
        self.width = 2 + 3 * t


def _colour_map(names: tuple[str, ...], device: torch.device) -> torch.Tensor:
    return torch.tensor([COLOURS.index(n) for n in names], dtype=torch.int64, device=device)
