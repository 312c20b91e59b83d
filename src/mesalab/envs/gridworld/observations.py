"""Observations: symbolic channels and pixel sprites, built once per episode, then patched.

Only the agent moves during an episode, so a step rewrites two cells of the observation
(where the agent was, where it is) instead of the whole tensor; worlds that reset are
rebuilt in full.
"""

from __future__ import annotations

import functools

import torch

from mesalab.envs.gridworld.spec import COLOURS
from mesalab.envs.gridworld.state import GridState

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
    """`(B, C, H, W)` float32 with channels `CHANNELS`."""

    channels = CHANNELS

    def __init__(self, batch: int, size: int, device: torch.device) -> None:
        self.size, self.area = size, size * size
        self.buffer = torch.zeros(batch, len(CHANNELS), size, size, device=device)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.buffer.shape[1:])

    def rebuild(self, index: torch.Tensor, state: GridState) -> None:
        """Write the full observation of the worlds at `index` from `state` (already those rows)."""
        rows = index.shape[0]
        out = torch.zeros(rows, len(CHANNELS), self.area, device=self.buffer.device)
        arange = torch.arange(rows, device=out.device)
        out[:, 0] = state.walls.float()
        out[arange, 1, state.agent] = 1.0
        present = state.targets >= 0
        shape_channel = torch.full_like(state.targets, 3)
        shape_channel[:, 0] = 2
        row_ix = arange[:, None].expand_as(state.targets)[present]
        cells = state.targets[present]
        out[row_ix, shape_channel[present], cells] = 1.0
        out[row_ix, 4 + state.colours[present], cells] = 1.0
        self.buffer[index] = out.view(rows, len(CHANNELS), self.size, self.size)

    def move_agent(self, old: torch.Tensor, new: torch.Tensor) -> None:
        """Move the agent mark of every world from cell `old` to cell `new` (both `(B,)`)."""
        flat = self.buffer.view(self.buffer.shape[0], -1)
        flat.scatter_(1, (self.area + old)[:, None], 0.0)
        flat.scatter_(1, (self.area + new)[:, None], 1.0)


class PixelObs:
    """`(B, 3, H*SPRITE, W*SPRITE)` uint8 RGB: colour in the pixel values, shape in the sprite."""

    channels = ("r", "g", "b")

    def __init__(self, batch: int, size: int, device: torch.device) -> None:
        self.size, self.area = size, size * size
        side = size * SPRITE
        self.buffer = torch.zeros(batch, 3, side, side, dtype=torch.uint8, device=device)
        self.sprites = sprite_table(device)
        pixels = torch.arange(SPRITE, device=device)
        # offset of each (channel, dy, dx) pixel of a sprite from its cell's top-left pixel
        self.offsets = (
            torch.arange(3, device=device)[:, None, None] * side * side
            + pixels[None, :, None] * side
            + pixels[None, None, :]
        ).view(-1)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.buffer.shape[1:])

    def rebuild(self, index: torch.Tensor, state: GridState) -> None:
        rows = index.shape[0]
        code = state.walls.long() * SPRITE_CODES["wall"]
        present = state.targets >= 0
        is_door = torch.zeros_like(present)
        is_door[:, 0] = True
        target_code = SPRITE_CODES["door-red"] + state.colours * 2 + (~is_door).long()
        arange = torch.arange(rows, device=code.device)[:, None].expand_as(state.targets)
        code[arange[present], state.targets[present]] = target_code[present]
        code[torch.arange(rows, device=code.device), state.agent] = SPRITE_CODES["agent"]
        image = self.sprites[code]  # (R, H*W, 3, S, S)
        image = image.view(rows, self.size, self.size, 3, SPRITE, SPRITE).permute(0, 3, 1, 4, 2, 5)
        self.buffer[index] = image.reshape(rows, 3, self.size * SPRITE, self.size * SPRITE)

    def move_agent(self, old: torch.Tensor, new: torch.Tensor) -> None:
        flat = self.buffer.view(self.buffer.shape[0], -1)
        batch = flat.shape[0]
        for cell, sprite in ((old, SPRITE_CODES["floor"]), (new, SPRITE_CODES["agent"])):
            index = self._cell_origin(cell)[:, None] + self.offsets[None]
            flat.scatter_(1, index, self.sprites[sprite].view(1, -1).expand(batch, -1))

    def _cell_origin(self, cell: torch.Tensor) -> torch.Tensor:
        side = self.size * SPRITE
        return (cell // self.size) * SPRITE * side + (cell % self.size) * SPRITE


SPRITE_CODES: dict[str, int] = {"floor": 0, "wall": 1, "agent": 2}
for _i, _colour in enumerate(COLOURS):
    SPRITE_CODES[f"door-{_colour}"] = 3 + 2 * _i
    SPRITE_CODES[f"object-{_colour}"] = 4 + 2 * _i


@functools.cache
def sprite_table(device: torch.device) -> torch.Tensor:
    """`(codes, 3, S, S)` uint8 sprites: a door is a coloured arch, an object a coloured diamond."""
    yy, xx = torch.meshgrid(torch.arange(SPRITE), torch.arange(SPRITE), indexing="ij")
    centre = SPRITE // 2
    masks = {
        "floor": torch.zeros(SPRITE, SPRITE, dtype=torch.bool),
        "wall": torch.ones(SPRITE, SPRITE, dtype=torch.bool),
        "agent": ((yy - centre).abs() <= 1) & ((xx - centre).abs() <= 1),
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


def make_observer(mode: str, batch: int, size: int, device: torch.device) -> SymbolicObs | PixelObs:
    return SymbolicObs(batch, size, device) if mode == "symbolic" else PixelObs(batch, size, device)
