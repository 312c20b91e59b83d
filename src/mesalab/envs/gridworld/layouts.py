"""Perfect mazes generated in batch, placements of start, exit and objects, and the bank.

A maze is a random spanning tree of the cell grid grown by randomized Prim (one cell per
iteration for every maze at once), so there is exactly one path between two floor cells.
The exit sits at a dead end; objects sit off the start-to-exit path, so an agent that
pursues the exit never has to step on one. A `LayoutBank` holds `num_layouts` such
layouts, generated lazily in blocks from `(layout_seed, layout id)` alone, so a world's
episodes do not depend on the batch it is stepped in.
"""

from __future__ import annotations

import functools

import torch

from mesalab.envs.gridworld.oracle import MOVES, _shift, grid_distances
from mesalab.envs.gridworld.shortcut import open_shortcuts
from mesalab.envs.gridworld.spec import WorldSpec
from mesalab.errors import MesalabError
from mesalab.seeding import hash_uniform, world_keys

_MAX_PLACEMENT_ATTEMPTS = 64


def generate_mazes(size: int, keys: torch.Tensor) -> torch.Tensor:
    """Perfect mazes, one per key.

    Args:
        size: grid side, odd, outer wall included.
        keys: `(M,)` int64 per-maze random keys.
    Returns:
        `(M, size, size)` bool walls; floor cells form a tree over the odd coordinates.
    """
    device = keys.device
    n = (size - 1) // 2
    num_cells = n * n
    m = keys.shape[0]
    rows = torch.arange(m, device=device)
    neighbour, passage = _cell_graph(size, device)
    valid = neighbour >= 0
    neighbour_flat = neighbour.clamp_min(0).view(1, -1).expand(m, -1)

    walls = torch.ones(m, size, size, dtype=torch.bool, device=device)
    walls[:, 1::2, 1::2] = False
    walls_flat = walls.view(m, -1)
    in_tree = torch.zeros(m, num_cells, dtype=torch.bool, device=device)
    slots = torch.arange(num_cells * 4, device=device)
    root = hash_uniform(keys[:, None], slots[None, :num_cells]).argmax(1)
    in_tree[rows, root] = True
    for iteration in range(1, num_cells):
        neighbour_in = in_tree.gather(1, neighbour_flat).view(m, num_cells, 4)
        frontier = (in_tree[:, :, None] & valid & ~neighbour_in).view(m, -1)
        draw = hash_uniform(keys[:, None], iteration * num_cells * 4 + slots[None])
        pick = torch.where(frontier, draw, -1.0).argmax(1)
        in_tree[rows, neighbour.view(-1)[pick]] = True
        walls_flat[rows, passage.view(-1)[pick]] = False
    return walls


@functools.cache
def _cell_graph(size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """For each maze cell and move: the neighbouring cell (-1 off-grid) and the passage's grid index."""
    n = (size - 1) // 2
    neighbour = torch.full((n * n, 4), -1, dtype=torch.int64)
    passage = torch.zeros((n * n, 4), dtype=torch.int64)
    for i in range(n):
        for j in range(n):
            for action, (dr, dc) in enumerate(MOVES):
                ni, nj = i + dr, j + dc
                if 0 <= ni < n and 0 <= nj < n:
                    neighbour[i * n + j, action] = ni * n + nj
                    passage[i * n + j, action] = (2 * i + 1 + dr) * size + (2 * j + 1 + dc)
    return neighbour.to(device), passage.to(device)


def dead_ends(walls: torch.Tensor) -> torch.Tensor:
    """`(M, H, W)` bool: floor cells with exactly one floor neighbour."""
    floor = ~walls
    degree = sum(_shift(floor.to(torch.int8), dr, dc) for dr, dc in MOVES)
    return floor & (degree == 1)


def place(walls: torch.Tensor, keys: torch.Tensor, num_objects: int) -> dict[str, torch.Tensor]:
    """Choose exit, start and object slots for each maze; resample starts until objects fit.

    Returns flat indices: `start (M,)`, `targets (M, 1 + num_objects)` (slot 0 the exit),
    and `start_dist (M, 1 + num_objects)`, the maze distance from the start to each slot.
    """
    m, height, width = walls.shape
    area = height * width
    floor = ~walls.view(m, area)
    cells = torch.arange(area, device=walls.device)
    exit_draw = hash_uniform(keys[:, None], cells[None])
    exit_cell = torch.where(dead_ends(walls).view(m, area), exit_draw, -1.0).argmax(1)

    start = torch.zeros(m, dtype=torch.int64, device=walls.device)
    objects = torch.zeros(m, num_objects, dtype=torch.int64, device=walls.device)
    start_dist = torch.zeros(m, 1 + num_objects, dtype=torch.int32, device=walls.device)
    todo = torch.arange(m, device=walls.device)
    for attempt in range(1, _MAX_PLACEMENT_ATTEMPTS + 1):
        sub_floor, sub_exit = floor[todo], exit_cell[todo]
        draw = hash_uniform(keys[todo, None], attempt * 2 * area + cells[None])
        sub_start = torch.where(sub_floor & (cells[None] != sub_exit[:, None]), draw, -1.0).argmax(1)
        free = sub_floor.view(-1, height, width)
        from_exit = grid_distances(free, _one_hot(sub_exit, area).view(-1, height, width)).view(-1, area)
        from_start = grid_distances(free, _one_hot(sub_start, area).view(-1, height, width)).view(-1, area)
        path_length = from_start.gather(1, sub_exit[:, None])
        off_path = sub_floor & (from_exit + from_start != path_length)
        fits = off_path.sum(1) >= num_objects
        object_draw = hash_uniform(keys[todo, None], (attempt * 2 + 1) * area + cells[None])
        sub_objects = torch.where(off_path, object_draw, -1.0).topk(num_objects, dim=1).indices
        sub_targets = torch.cat([sub_exit[:, None], sub_objects], dim=1)
        done, left = todo[fits], todo[~fits]
        start[done] = sub_start[fits]
        objects[done] = sub_objects[fits]
        start_dist[done] = from_start.gather(1, sub_targets)[fits]
        todo = left
        if todo.numel() == 0:
            return {
                "start": start,
                "targets": torch.cat([exit_cell[:, None], objects], 1),
                "start_dist": start_dist,
            }
    raise MesalabError(
        f"max_objects: could not place {num_objects} objects off the path in "
        f"{todo.numel()} mazes after {_MAX_PLACEMENT_ATTEMPTS} attempts; use a larger size"
    )


def _one_hot(index: torch.Tensor, length: int) -> torch.Tensor:
    out = torch.zeros(index.shape[0], length, dtype=torch.bool, device=index.device)
    out[torch.arange(index.shape[0], device=index.device), index] = True
    return out


class LayoutBank:
    """`num_layouts` layouts of one spec, generated on first use in blocks, then kept."""

    block_size = 256

    def __init__(
        self,
        size: int,
        max_objects: int,
        num_layouts: int,
        layout_seed: int,
        device: torch.device,
        shortcut: bool = False,
    ):
        self.size, self.max_objects, self.num_layouts = size, max_objects, num_layouts
        self.shortcut = shortcut
        self.layout_seed, self.device = layout_seed, device
        area = size * size
        self.walls = torch.zeros(num_layouts, area, dtype=torch.bool, device=device)
        self.start = torch.zeros(num_layouts, dtype=torch.int64, device=device)
        self.targets = torch.zeros(num_layouts, 1 + max_objects, dtype=torch.int64, device=device)
        self.start_dist = torch.zeros(num_layouts, 1 + max_objects, dtype=torch.int32, device=device)
        self.restricted = torch.zeros(num_layouts, dtype=torch.int64, device=device)
        """The restricted cell of each layout (worlds with a shortcut; 0, a wall, otherwise)."""
        self.symmetric_walls = torch.zeros(8 * num_layouts, area, dtype=torch.bool, device=device)
        """Row `s * num_layouts + l`: layout l's walls under symmetry s (so an episode's walls are
        one row copy, not a per-cell gather)."""
        self._to_source = symmetry_permutations(size, device).argsort(1)  # (8, area): cell -> source cell
        num_blocks = -(-num_layouts // self.block_size)
        self._ready = torch.zeros(num_blocks, dtype=torch.bool)
        self._complete = False

    def ensure(self, layout_ids: torch.Tensor) -> None:
        """Generate every block that holds one of `layout_ids` and is not yet generated."""
        if self._complete:  # the common case once warm: no device-to-host copy per reset
            return
        blocks = torch.unique(layout_ids.cpu() // self.block_size)
        missing = blocks[~self._ready[blocks]]
        if missing.numel() == 0:
            return
        offsets = torch.arange(self.block_size)
        ids = (missing[:, None] * self.block_size + offsets[None]).view(-1)
        ids = ids[ids < self.num_layouts].to(self.device)
        maze_keys = world_keys(self.layout_seed, "maze", ids)
        walls = generate_mazes(self.size, maze_keys)
        placed = place(walls, world_keys(self.layout_seed, "place", ids), self.max_objects)
        if self.shortcut:
            opened = open_shortcuts(
                walls, placed["targets"][:, 0], world_keys(self.layout_seed, "shortcut", ids)
            )
            walls = opened.pop("walls")
            self.restricted[ids] = opened.pop("restricted")
            placed.update(opened)
        self.walls[ids] = walls.view(ids.shape[0], -1)
        for symmetry in range(8):
            rows = symmetry * self.num_layouts + ids
            self.symmetric_walls[rows] = self.walls[ids][:, self._to_source[symmetry]]
        self.start[ids] = placed["start"]
        self.targets[ids] = placed["targets"]
        self.start_dist[ids] = placed["start_dist"]
        self._ready[missing] = True
        self._complete = bool(self._ready.all())


@functools.cache
def _bank(
    size: int, max_objects: int, num_layouts: int, layout_seed: int, device: torch.device, shortcut: bool
) -> LayoutBank:
    return LayoutBank(size, max_objects, num_layouts, layout_seed, device, shortcut)


def layout_bank(spec: WorldSpec, device: torch.device) -> LayoutBank:
    """The process-wide bank for a spec's layout fields (shared by every world of that spec)."""
    return _bank(
        spec.size, spec.max_objects, spec.num_layouts, spec.layout_seed, torch.device(device), spec.shortcut
    )


def symmetry_permutations(size: int, device: torch.device) -> torch.Tensor:
    """`(8, size*size)` int64: where each flat cell goes under each symmetry of the square."""
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    last = size - 1
    images = [
        (rows, cols),
        (cols, last - rows),
        (last - rows, last - cols),
        (last - cols, rows),
        (rows, last - cols),
        (last - rows, cols),
        (cols, rows),
        (last - cols, last - rows),
    ]
    return torch.stack([(r * size + c).reshape(-1) for r, c in images]).to(device)
