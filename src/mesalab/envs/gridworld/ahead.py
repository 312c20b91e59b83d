"""Episode starts built ahead: each world's next episodes, made in bulk before they start.

Building an episode costs mostly per call, not per row, so a `GridWorld` of at least
`BUILD_AHEAD_MIN_BATCH` worlds builds every world's next `AHEAD` episodes at once, once B/4
episodes have started since the last build; an auto-reset then only copies a few rows.
`episode_state` turns an episode's draws into its `GridState`; `EpisodesAhead` keeps the
rows of the episodes built ahead until they start.
"""

from __future__ import annotations

import torch

from mesalab.envs.gridworld.layouts import LayoutBank
from mesalab.envs.gridworld.spec import WorldSpec
from mesalab.envs.gridworld.state import NO_TARGET, GridState

BUILD_AHEAD_MIN_BATCH = 64
"""Below this many worlds, episodes are built when they start, not ahead (nothing to amortise)."""

AHEAD = 8
"""Episodes built ahead per world: a world may finish this many between two bulk builds
before one of its episodes has to be built on its own (a whole build call for a few rows)."""

DRAW_KEYS = ("layout", "symmetry", "num_objects", "colours")
"""What `GridWorld._episode_draws` must return; further keys are episode tags (`GridWorld.tags`)."""


def episode_state(
    spec: WorldSpec, bank: LayoutBank, symmetric_cell: torch.Tensor, draws: dict[str, torch.Tensor]
) -> GridState:
    """The start of the N episodes whose draws are `draws` (`DRAW_KEYS`, `(N, ...)` each).

    `symmetric_cell` is `symmetry_permutations(size).view(-1)`: `s * H*W + c` is where cell
    c goes under symmetry s.
    """
    bank.ensure(draws["layout"])
    layout, area = draws["layout"], spec.size**2
    moved = draws["symmetry"] * area  # offset of this symmetry's row of `symmetric_cell`
    start = symmetric_cell.index_select(0, moved + bank.start.index_select(0, layout))
    slot = torch.arange(spec.num_targets, device=start.device)
    present = (slot[None] == 0) | (slot[None] <= draws["num_objects"][:, None])
    return GridState(
        size=spec.size,
        walls=bank.symmetric_walls.index_select(0, draws["symmetry"] * spec.num_layouts + layout),
        agent=start,
        start=start,
        targets=torch.where(
            present, symmetric_cell[moved[:, None] + bank.targets.index_select(0, layout)], NO_TARGET
        ),
        colours=torch.where(present, draws["colours"], NO_TARGET),
        start_dist=bank.start_dist[layout],
        steps=torch.zeros_like(start),
    )


class EpisodesAhead:
    """The rows of episodes built ahead for B worlds: episode e of world i in row
    `(e % AHEAD) * B + i` of each tensor of `next`, by name."""

    def __init__(self, batch_size: int, device: torch.device) -> None:
        self.batch_size, self.device = batch_size, device
        self.next: dict[str, torch.Tensor] = {}
        """Rows of the episodes built ahead, `(AHEAD * B, ...)` each; allocated on the first build."""
        self.ready_episode = torch.full((AHEAD * batch_size,), -1, dtype=torch.int64, device=device)
        """Which episode each row of `next` holds; -1 for none."""
        self.used_since_refill = 0
        self.refill_at = batch_size // 4 if batch_size >= BUILD_AHEAD_MIN_BATCH else None
        """Episodes started between two bulk builds; None: no bulk builds (a small batch)."""

    def rows(self, index: torch.Tensor, episodes: torch.Tensor) -> torch.Tensor:
        """Rows of `next` for episode `episodes` `(N,)` of the worlds at `index` `(N,)`."""
        return (episodes % AHEAD) * self.batch_size + index

    def store(
        self,
        index: torch.Tensor,
        episodes: torch.Tensor,
        rows: dict[str, torch.Tensor],
        tags: dict[str, torch.Tensor],
    ) -> None:
        """Keep `rows` (`(N, ...)` each, by name) as episode `episodes` of the worlds at `index`.
        A `tag.{name}` row first seen here also gets its current-episode tensor in `tags`."""
        rows_at = self.rows(index, episodes)
        for name, value in rows.items():
            if name not in self.next:
                shape = (AHEAD * self.batch_size, *value.shape[1:])
                self.next[name] = torch.zeros(shape, dtype=value.dtype, device=self.device)
                if name.startswith("tag.") and name[4:] not in tags:  # set_state may have made it
                    tags[name[4:]] = torch.zeros_like(value[:1]).expand(self.batch_size).clone()
            # index_copy_ rather than `x[index] = ...`: the same rows written, a faster kernel
            self.next[name].index_copy_(0, rows_at, value)
        self.ready_episode.index_copy_(0, rows_at, episodes)

    def refill_due(self) -> bool:
        return self.refill_at is not None and self.used_since_refill >= self.refill_at

    def missing(self, episode: torch.Tensor, every: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The worlds and episodes among each world's next `AHEAD` (after `episode` `(B,)`)
        that are not built yet, as `(index, episodes)`; restarts the count to the next refill."""
        self.used_since_refill = 0
        indices, episodes = [], []
        for ahead in range(1, AHEAD + 1):
            wanted = episode + ahead
            missing = self.ready_episode.index_select(0, self.rows(every, wanted)) != wanted
            index = missing.nonzero().squeeze(1)
            indices.append(index)
            episodes.append(wanted.index_select(0, index))
        return torch.cat(indices), torch.cat(episodes)
