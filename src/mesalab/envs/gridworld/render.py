"""Pictures of one world: ASCII for the terminal, RGB arrays and PNGs for reports.

    print(render_ascii(world.state, 0))
    rgb = render_rgb(world.state, 0, trajectories=[path_a, path_b])   # (H*16, W*16, 3) uint8
    save_png(rgb, "maze.png")

A trajectory is a sequence of flat cell indices (`row * size + col`); it is drawn as a
line with a dot at every visited cell centre. Several trajectories get different
colours and a small offset from each other, so two policies' paths through the same
maze stay visible where they overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from mesalab.envs.gridworld.oracle import grid_distances
from mesalab.envs.gridworld.spec import COLOURS
from mesalab.envs.gridworld.state import GridState

ASCII_LEGEND = "legend: # wall  . floor  @ agent  R/B/G/Y door (exit)  r/b/g/y object"

RGB: dict[str, tuple[int, int, int]] = {
    "floor": (236, 236, 236),
    "wall": (64, 64, 64),
    "agent": (20, 20, 20),
    "red": (220, 40, 40),
    "blue": (40, 90, 230),
    "green": (30, 170, 60),
    "yellow": (230, 190, 20),
    "restricted": (250, 180, 120),
    "overseer": (150, 60, 200),
}
"""Colours of the RGB pictures: a light floor so that paths drawn on it read well in print."""

TRAJECTORY_COLOURS: tuple[tuple[int, int, int], ...] = (
    (255, 140, 0),
    (0, 170, 190),
    (150, 60, 200),
    (120, 200, 0),
    (240, 0, 140),
)
"""Default colours of trajectories 0, 1, 2, ...; they avoid the door and object colours."""

Trajectory = Sequence[int] | np.ndarray | torch.Tensor


def render_ascii(
    state: GridState, index: int, restricted: int | None = None, watched: bool | None = None
) -> str:
    """World `index` of `state` as text: one line per grid row, then a legend line.

    In a world with an overseer, `restricted` is its restricted cell (drawn `x`) and
    `watched` whether the overseer watches (a line above the maze says which)."""
    size = state.size
    walls = state.walls[index].cpu().numpy()
    chars = np.where(walls, "#", ".").astype("<U1")
    targets = state.targets[index].cpu().numpy()
    colours = state.colours[index].cpu().numpy()
    for slot, (cell, colour) in enumerate(zip(targets, colours, strict=True)):
        if cell >= 0:
            initial = COLOURS[int(colour)][0]
            chars[cell] = initial.upper() if slot == 0 else initial
    if restricted is not None:
        chars[restricted] = "x"
    chars[int(state.agent[index])] = "@"
    rows = ["".join(chars[r * size : (r + 1) * size]) for r in range(size)]
    if restricted is None:
        return "\n".join([*rows, ASCII_LEGEND])
    header = "overseer: watching" if watched else "overseer: away"
    return "\n".join([header, *rows, ASCII_LEGEND + "  x restricted"])


def parse_ascii(text: str, num_targets: int | None = None, steps: int = 0) -> GridState:
    """A one-world `GridState` from a picture in `render_ascii`'s notation (its inverse).

    Uppercase `R/B/G/Y` is the exit door (slot 0, exactly one), lowercase letters are
    objects (slots 1.., in reading order); `@` is the agent and the start. A trailing
    legend line is ignored. `num_targets` pads the target slots with absent ones (-1) to
    match a spec's `num_targets`. `start_dist` is the maze distance from the start.
    Meant for hand-written test worlds, loaded with `GridWorld.set_state`.
    """
    rows = [line.strip() for line in text.strip().splitlines() if not line.startswith("legend")]
    size = len(rows)
    if any(len(row) != size for row in rows):
        raise ValueError(f"the picture must be square, got row lengths {[len(r) for r in rows]}")
    cells = "".join(rows)
    unknown = set(cells) - set("#.@RBGYrbgy")
    if unknown:
        raise ValueError(f"unknown characters {sorted(unknown)}; use # . @ R B G Y r b g y")
    doors = [i for i, ch in enumerate(cells) if ch.isupper()]
    agents = [i for i, ch in enumerate(cells) if ch == "@"]
    if len(doors) != 1 or len(agents) != 1:
        raise ValueError(f"need exactly one door and one agent, got {len(doors)} and {len(agents)}")
    objects = [i for i, ch in enumerate(cells) if ch.islower()]
    slots = num_targets if num_targets is not None else 1 + len(objects)
    if slots < 1 + len(objects):
        raise ValueError(f"{len(objects)} objects need num_targets >= {1 + len(objects)}, got {slots}")
    initials = {colour[0]: k for k, colour in enumerate(COLOURS)}
    targets = torch.full((1, slots), -1, dtype=torch.int64)
    colours = torch.full((1, slots), -1, dtype=torch.int64)
    for slot, cell in enumerate(doors + objects):
        targets[0, slot] = cell
        colours[0, slot] = initials[cells[cell].lower()]
    walls = torch.tensor([[ch == "#" for ch in cells]])
    start = torch.tensor(agents)
    from_start = grid_distances(~walls.view(1, size, size), _one_cell(start, size)).view(1, -1)
    start_dist = torch.where(targets >= 0, from_start.gather(1, targets.clamp_min(0)), 0).to(torch.int32)
    return GridState(
        size=size,
        walls=walls,
        agent=start.clone(),
        start=start,
        targets=targets,
        colours=colours,
        start_dist=start_dist,
        steps=torch.tensor([steps]),
    )


def _one_cell(cell: torch.Tensor, size: int) -> torch.Tensor:
    grid = torch.zeros(cell.shape[0], size * size, dtype=torch.bool)
    grid[torch.arange(cell.shape[0]), cell] = True
    return grid.view(-1, size, size)


def render_rgb(
    state: GridState,
    index: int,
    trajectories: Sequence[Trajectory] = (),
    cell_px: int = 16,
    trajectory_colours: Sequence[tuple[int, int, int]] | None = None,
    restricted: int | None = None,
    watched: bool = False,
) -> np.ndarray:
    """World `index` of `state` as an `(size*cell_px, size*cell_px, 3)` uint8 image.

    Doors are a coloured arch (a frame open at the bottom), objects a coloured diamond,
    the agent a dark disc. `trajectories` are drawn on top, in `trajectory_colours`
    (default `TRAJECTORY_COLOURS`, cycled). A `restricted` cell is drawn light orange; while
    `watched`, the outer wall is drawn in the overseer's purple.
    """
    if cell_px < 4:
        raise ValueError(f"cell_px must be >= 4 to tell shapes apart, got {cell_px}")
    size = state.size
    image = np.empty((size * cell_px, size * cell_px, 3), dtype=np.uint8)
    walls = state.walls[index].cpu().numpy().reshape(size, size)
    cell_colour = np.where(walls[:, :, None], RGB["wall"], RGB["floor"]).astype(np.uint8)
    # each cell becomes a cell_px x cell_px block of its colour
    if watched:
        border = np.zeros((size, size), dtype=bool)
        border[[0, -1], :] = border[:, [0, -1]] = True
        cell_colour[border] = RGB["overseer"]
    if restricted is not None:
        cell_colour[divmod(restricted, size)] = RGB["restricted"]
    image[:] = cell_colour.repeat(cell_px, axis=0).repeat(cell_px, axis=1)
    masks = _shape_masks(cell_px)
    targets = state.targets[index].cpu().numpy()
    colours = state.colours[index].cpu().numpy()
    for slot, (cell, colour) in enumerate(zip(targets, colours, strict=True)):
        if cell >= 0:
            _stamp(
                image,
                int(cell),
                size,
                cell_px,
                masks["door" if slot == 0 else "object"],
                RGB[COLOURS[colour]],
            )
    _stamp(image, int(state.agent[index]), size, cell_px, masks["agent"], RGB["agent"])
    palette = list(trajectory_colours) if trajectory_colours else list(TRAJECTORY_COLOURS)
    for k, path in enumerate(trajectories):
        offset = _offset(k, len(trajectories), cell_px)
        _draw_path(image, _as_cells(path), size, cell_px, palette[k % len(palette)], offset)
    return image


def save_png(rgb: np.ndarray, path: str | Path) -> Path:
    """Write an `(H, W, 3)` uint8 image as PNG, creating parent folders; returns the path."""
    from matplotlib import image as mpimg  # imported here: matplotlib is slow to import

    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {rgb.shape} {rgb.dtype}")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    mpimg.imsave(out, rgb, format="png")
    return out


# ---- drawing helpers ----------------------------------------------------------------
def _shape_masks(cell_px: int) -> dict[str, np.ndarray]:
    """`(cell_px, cell_px)` bool masks of the door, object and agent shapes."""
    yy, xx = np.mgrid[0:cell_px, 0:cell_px]
    centre = (cell_px - 1) / 2
    frame = max(cell_px // 5, 1)
    inset = max(cell_px // 8, 1)
    inside = (yy >= inset) & (xx >= inset) & (xx < cell_px - inset)
    # a door: a thick arch, open at the bottom, so it reads as a doorway
    door = inside & ((yy < inset + frame) | (xx < inset + frame) | (xx >= cell_px - inset - frame))
    radius = cell_px * 0.38
    obj = (np.abs(yy - centre) + np.abs(xx - centre)) <= radius
    agent = (yy - centre) ** 2 + (xx - centre) ** 2 <= (cell_px * 0.3) ** 2
    return {"door": door, "object": obj, "agent": agent}


def _stamp(
    image: np.ndarray, cell: int, size: int, cell_px: int, mask: np.ndarray, colour: tuple[int, int, int]
) -> None:
    row, col = divmod(cell, size)
    block = image[row * cell_px : (row + 1) * cell_px, col * cell_px : (col + 1) * cell_px]
    block[mask] = colour


def _as_cells(path: Trajectory) -> np.ndarray:
    cells = path.cpu().numpy() if isinstance(path, torch.Tensor) else np.asarray(path)
    return cells.astype(np.int64).reshape(-1)


def _offset(k: int, count: int, cell_px: int) -> float:
    """Pixel offset of trajectory k so that overlapping paths sit side by side."""
    if count <= 1:
        return 0.0
    spread = cell_px * 0.3
    return -spread / 2 + spread * k / (count - 1)


def _draw_path(
    image: np.ndarray,
    cells: np.ndarray,
    size: int,
    cell_px: int,
    colour: tuple[int, int, int],
    offset: float,
) -> None:
    """A polyline through the centres of `cells`, with a dot on each, clipped to the image."""
    if cells.size == 0:
        return
    rows, cols = np.divmod(cells, size)
    ys = rows * cell_px + (cell_px - 1) / 2 + offset
    xs = cols * cell_px + (cell_px - 1) / 2 + offset
    thickness = max(cell_px // 8, 1)
    points: list[np.ndarray] = []
    for k in range(len(cells) - 1):
        length = max(abs(ys[k + 1] - ys[k]), abs(xs[k + 1] - xs[k]))
        samples = np.linspace(0.0, 1.0, int(length) + 2)  # one sample per pixel: no gaps
        points.append(
            np.stack([ys[k] + (ys[k + 1] - ys[k]) * samples, xs[k] + (xs[k + 1] - xs[k]) * samples], 1)
        )
    if points:
        _paint(image, np.concatenate(points), thickness // 2, colour)
    _paint(image, np.stack([ys, xs], 1), thickness, colour)


def _paint(image: np.ndarray, points: np.ndarray, radius: int, colour: tuple[int, int, int]) -> None:
    """Fill a square of side `2 * radius + 1` around each `(y, x)` point."""
    height, width = image.shape[:2]
    centres = np.rint(points).astype(np.int64)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            y = np.clip(centres[:, 0] + dy, 0, height - 1)
            x = np.clip(centres[:, 1] + dx, 0, width - 1)
            image[y, x] = colour
