"""Observations: symbolic channels and pixel sprites, built once per episode, then patched.

Only the agent moves during an episode, so a step rewrites two cells of the observation
(where the agent was, where it is) instead of the whole tensor; a new episode's rows are
built in full (`episode_rows`), ahead of time, and copied in when it starts.
`decode_symbolic` goes the other way: the visible state from symbolic observations.
"""

from __future__ import annotations

import functools

import torch

from mesalab.envs.gridworld.oracle import target_distances
from mesalab.envs.gridworld.spec import COLOURS
from mesalab.envs.gridworld.state import NO_TARGET, GridState

CHANNELS: tuple[str, ...] = ("wall", "agent", "door", "object", *COLOURS)
"""Symbolic channel names, in order: shape (wall, agent, door, object) and colour apart."""

SPRITE = 5
"""Pixels per cell side in `pixels` mode."""

PALETTE: dict[str, tuple[int, int, int]] = {
    "floor": (0, 0, 0),
    "wall": (110, 110, 110),
    "agent": (255, 255, 255),
    "red": (230, 40, 40),
    "blue": (40, 90, 240),
    "green": (40, 200, 60),
    "yellow": (240, 220, 40),
}


class SymbolicObs:
    """`(B, C, H, W)` float32 with channels `channels` (`CHANNELS` first, then the spec's own)."""

    def __init__(
        self, batch: int, size: int, device: torch.device, channels: tuple[str, ...] = CHANNELS
    ) -> None:
        self.size, self.area, self.channels = size, size * size, channels
        self.buffer = torch.zeros(batch, len(channels), size, size, device=device)
        # flat index of cell 0 of each world's agent channel
        self._agent_origin = torch.arange(batch, device=device) * len(channels) * self.area + self.area

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.buffer.shape[1:])

    def episode_rows(self, state: GridState) -> dict[str, torch.Tensor]:
        """`obs.ones` `(N, 1 + 2T)`: where in a world's flat observation its marks are set.

        The agent, each target's shape channel and its colour channel; an absent target
        repeats the agent's mark, so every row has the same length and no mask is needed.
        """
        area = self.area
        agent = area + state.agent[:, None]  # channel 1
        present = state.targets >= 0
        shape_channel = torch.full_like(state.targets, CHANNELS.index("object"))
        shape_channel[:, 0] = CHANNELS.index("door")
        shape = torch.where(present, shape_channel * area + state.targets, agent)
        colour = torch.where(present, (4 + state.colours) * area + state.targets, agent)
        return {"obs.ones": torch.cat([agent, shape, colour], dim=1)}

    def start_episodes(
        self, index: torch.Tensor, agent: torch.Tensor, walls: torch.Tensor, rows: dict[str, torch.Tensor]
    ) -> None:
        """Draw the worlds at `index` from scratch: walls `(N, H*W)` and the marks in `rows`."""
        del agent  # its mark is in rows["obs.ones"]
        self.buffer.index_fill_(0, index, 0.0)
        self.buffer[:, 0].flatten(1).index_copy_(0, index, walls.to(self.buffer.dtype))
        marks = (index * (len(self.channels) * self.area))[:, None] + rows["obs.ones"]
        self.buffer.view(-1).index_fill_(0, marks.view(-1), 1.0)

    def move_agent(self, old: torch.Tensor, new: torch.Tensor) -> None:
        """Move the agent mark of every world from cell `old` to cell `new` (both `(B,)`)."""
        # index_fill_ on the flat buffer is ~1.5x faster than a row-wise scatter_ on CPU;
        # clearing before setting keeps the mark when a wall blocked the move (old == new)
        flat = self.buffer.view(-1)
        flat.index_fill_(0, self._agent_origin + old, 0.0)
        flat.index_fill_(0, self._agent_origin + new, 1.0)


class PixelObs:
    """`(B, 3, H*SPRITE, W*SPRITE)` uint8 RGB: colour in the pixel values, shape in the sprite."""

    channels = ("r", "g", "b")

    def __init__(self, batch: int, size: int, device: torch.device) -> None:
        self.size, self.area = size, size * size
        side = size * SPRITE
        self.buffer = torch.zeros(batch, 3, side, side, dtype=torch.uint8, device=device)
        self.sprites = sprite_table(device)
        self.codes = torch.zeros(batch, self.area, dtype=torch.int64, device=device)
        """`(B, H*W)` sprite code of each cell without the agent, to repaint the cell it leaves."""
        # The agent sprite only covers the middle AGENT_SPAN x AGENT_SPAN pixels of a cell, so a
        # move rewrites those pixels of two cells: (channel, dy, dx) offsets from a cell's origin.
        middle = torch.arange(_AGENT_LO, _AGENT_LO + AGENT_SPAN, device=device)
        self.offsets = (
            torch.arange(3, device=device)[:, None, None] * side * side
            + middle[None, :, None] * side
            + middle[None, None, :]
        ).view(-1)
        self._middles = self.sprites[
            :, :, _AGENT_LO : _AGENT_LO + AGENT_SPAN, _AGENT_LO : _AGENT_LO + AGENT_SPAN
        ]
        self._middles = self._middles.reshape(len(SPRITE_CODES), -1)  # (codes, 3 * span * span)
        # (H*W, 3 * span * span) pixel indices of each cell's middle: a row gather per move is
        # ~10x cheaper on CPU than broadcasting (B, 1) + (1, 27) every step
        cells = torch.arange(self.area, device=device)
        self._cell_pixels = self._cell_origin(cells)[:, None] + self.offsets[None]
        self._agent_middle = self._middles[SPRITE_CODES["agent"]].expand(batch, -1)
        self._sprite_rows = self.sprites.reshape(-1, SPRITE)  # (codes * 3 * S, S): one pixel row each
        self._sprite_row_offsets = (
            torch.arange(3, device=device)[:, None, None, None] * SPRITE
            + torch.arange(SPRITE, device=device)[None, None, :, None]
        )[None]  # (1, 3, 1, S, 1): channel and sprite-row part of the row index

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.buffer.shape[1:])

    def episode_rows(self, state: GridState) -> dict[str, torch.Tensor]:
        """`obs.codes` `(N, H*W)`: the sprite code of every cell (without the agent)."""
        code = state.walls.long() * SPRITE_CODES["wall"]
        present = state.targets >= 0
        is_door = torch.zeros_like(present)
        is_door[:, 0] = True
        target_code = SPRITE_CODES["door-red"] + state.colours * 2 + (~is_door).long()
        arange = torch.arange(state.batch_size, device=code.device)[:, None].expand_as(state.targets)
        code[arange[present], state.targets[present]] = target_code[present]
        return {"obs.codes": code}

    def start_episodes(
        self, index: torch.Tensor, agent: torch.Tensor, walls: torch.Tensor, rows: dict[str, torch.Tensor]
    ) -> None:
        """Paint the worlds at `index` from their cell codes, with the agent at `agent` `(N,)`."""
        del walls  # in the codes
        code = rows["obs.codes"]
        count = index.shape[0]
        self.codes.index_copy_(0, index, code)
        # Pixel row (channel c, sprite row dy) of cell (y, x) is sprite row `code * 3S + c * S + dy`;
        # gathering those rows in output order (R, 3, H, S, W) lays out the image directly, with
        # no 6-d permute of uint8 pixels (which cost ~5x more on CPU).
        grid = code.view(count, 1, self.size, 1, self.size) * (3 * SPRITE)
        rows_index = (grid + self._sprite_row_offsets).view(-1)  # (R * 3 * H * S * W,)
        image = self._sprite_rows.index_select(0, rows_index)  # (R * 3 * H * S * W, S)
        image = image.view(count, 3 * self.size * SPRITE * self.size * SPRITE)
        # the agent is drawn over the middle of its cell, exactly as `move_agent` draws it
        image.scatter_(1, self._cell_pixels.index_select(0, agent), self._agent_middle[:count])
        # index_copy_ is several times faster than `buffer[index] = ...` for whole rows
        side = self.size * SPRITE
        self.buffer.index_copy_(0, index, image.view(count, 3, side, side))

    def move_agent(self, old: torch.Tensor, new: torch.Tensor) -> None:
        """Repaint the middle of cell `old` as it is without the agent, then draw the agent at `new`."""
        flat = self.buffer.view(self.buffer.shape[0], -1)
        under = self._middles.index_select(0, self.codes.gather(1, old[:, None]).squeeze(1))  # (B, 27)
        # scatter_ along rows is 2x faster than a flat index_put_ for these small uint8 writes
        flat.scatter_(1, self._cell_pixels.index_select(0, old), under)
        flat.scatter_(1, self._cell_pixels.index_select(0, new), self._agent_middle)

    def _cell_origin(self, cell: torch.Tensor) -> torch.Tensor:
        side = self.size * SPRITE
        return (cell // self.size) * SPRITE * side + (cell % self.size) * SPRITE


SPRITE_CODES: dict[str, int] = {"floor": 0, "wall": 1, "agent": 2}
for _i, _colour in enumerate(COLOURS):
    SPRITE_CODES[f"door-{_colour}"] = 3 + 2 * _i
    SPRITE_CODES[f"object-{_colour}"] = 4 + 2 * _i


AGENT_SPAN = 3
"""Side in pixels of the agent's square, drawn in the middle of its cell."""
_AGENT_LO = SPRITE // 2 - AGENT_SPAN // 2


@functools.cache
def sprite_table(device: torch.device) -> torch.Tensor:
    """`(codes, 3, S, S)` uint8 sprites: a door is a coloured arch, an object a coloured diamond."""
    yy, xx = torch.meshgrid(torch.arange(SPRITE), torch.arange(SPRITE), indexing="ij")
    centre = SPRITE // 2
    masks = {
        "floor": torch.zeros(SPRITE, SPRITE, dtype=torch.bool),
        "wall": torch.ones(SPRITE, SPRITE, dtype=torch.bool),
        "agent": ((yy - centre).abs() <= AGENT_SPAN // 2) & ((xx - centre).abs() <= AGENT_SPAN // 2),
        # a door: a frame open at the bottom, like an arch
        "door": (yy == 0) | (xx == 0) | (xx == SPRITE - 1),
        # an object: a diamond in the middle of the cell
        "object": ((yy - centre).abs() + (xx - centre).abs()) <= 1,
    }
    table = torch.zeros(len(SPRITE_CODES), 3, SPRITE, SPRITE, dtype=torch.uint8)
    for name, code in SPRITE_CODES.items():
        shape, _, colour = name.partition("-")
        rgb = torch.tensor(PALETTE[colour or shape], dtype=torch.uint8)
        table[code] = torch.where(masks[shape][None], rgb[:, None, None], torch.zeros((), dtype=torch.uint8))
    return table.to(device)


def make_observer(
    mode: str, batch: int, size: int, device: torch.device, channels: tuple[str, ...] = CHANNELS
) -> SymbolicObs | PixelObs:
    return SymbolicObs(batch, size, device, channels) if mode == "symbolic" else PixelObs(batch, size, device)


def decode_symbolic(obs: torch.Tensor) -> GridState:
    """Rebuild the visible state from `(B, C, H, W)` symbolic observations (channels past the
    colours, e.g. the oversight ones, are not part of the `GridState`).

    The start cell is not visible, so `start` is the current cell and `start_dist` the
    maze distance from it (ignoring other targets).
    """
    batch, _, size, _ = obs.shape
    flat = obs.flatten(2) > 0.5  # (B, C, H*W)
    walls, agent_map, door, objects = flat[:, 0], flat[:, 1], flat[:, 2], flat[:, 3]
    agent = agent_map.float().argmax(1)
    num_objects = int(objects.sum(1).max()) if batch else 0
    cells = torch.arange(size * size, device=obs.device)
    door_cell = torch.where(door.any(1), door.float().argmax(1), NO_TARGET)
    order = torch.where(objects, cells, size * size).sort(1).values[:, :num_objects]
    object_cells = torch.where(order < size * size, order, NO_TARGET)
    targets = torch.cat([door_cell[:, None], object_cells], 1)
    colour_planes = flat[:, 4 : 4 + len(COLOURS)].float()  # (B, colours, H*W)
    colour_at = colour_planes.gather(
        2, targets.clamp_min(0)[:, None, :].expand(-1, colour_planes.shape[1], -1)
    )
    colours = torch.where(targets >= 0, colour_at.argmax(1), NO_TARGET)
    state = GridState(
        size=size,
        walls=walls,
        agent=agent,
        start=agent.clone(),
        targets=targets,
        colours=colours,
        start_dist=torch.zeros_like(targets, dtype=torch.int32),
        steps=torch.zeros_like(agent),
    )
    dist = target_distances(state.grid(walls), targets).flatten(2)  # (B, T, H*W)
    state.start_dist = dist.gather(2, agent[:, None, None].expand(-1, targets.shape[1], 1)).squeeze(2)
    return state
