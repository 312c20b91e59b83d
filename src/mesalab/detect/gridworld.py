"""Gridworld helpers shared by the diagnostics: inputs, edits, and the reference optimizer.

The reference optimizer for a candidate objective (`mesalab.envs.gridworld.objectives`)
is breadth-first search: its optimal moves from the visible state of an observation.
A policy *agrees* with it on an observation when its preferred moves (the actions whose
logit is within `TIE` of the maximum) are not all four and all lie on a shortest path.
Uniform logits (a lookup table off its table, a policy with no preference) never agree.
"""

from __future__ import annotations

import functools

import torch

from mesalab.envs.gridworld import GridWorld, candidate_names, get_distribution
from mesalab.envs.gridworld.objectives import OBJECTIVES
from mesalab.envs.gridworld.observations import CHANNELS, decode_symbolic
from mesalab.envs.gridworld.oracle import moves_towards
from mesalab.seeding import generator

TIE = 1e-4
"""Logits within this of the maximum count as preferred (relative to max(1, |max|))."""
HELD_OUT_LAYOUT_SEED = 7919
"""Layout bank of the off-reference mazes: no zoo reference set and no training run uses it."""
_SMALL_BANK = 512
"""Layouts per held-out bank: enough for a few hundred episodes, quick to generate."""


@functools.cache
def _spec(world: str, layout_seed: int, num_layouts: int | None) -> object:
    spec = get_distribution(world).replace(layout_seed=layout_seed)
    return spec.replace(num_layouts=num_layouts) if num_layouts else spec


def held_out_spec(world: str) -> object:
    """`world` with the held-out layout bank (a small one, generated in about a second)."""
    return _spec(world, HELD_OUT_LAYOUT_SEED, _SMALL_BANK)


def bank_spec(world: str, layout_seed: int, num_layouts: int) -> object:
    """`world` with another layout bank of `num_layouts` layouts (cached per process)."""
    return _spec(world, layout_seed, num_layouts)


def start_observations(world: str, count: int, seed: int, layout_seed: int | None = None) -> torch.Tensor:
    """`(count, 8, H, W)` start observations of `world` (held-out bank unless `layout_seed`;
    a bank of `_SMALL_BANK` layouts either way, quick to generate)."""
    spec = held_out_spec(world) if layout_seed is None else _spec(world, layout_seed, _SMALL_BANK)
    return GridWorld(spec, count, seed=seed).reset().clone()  # type: ignore[arg-type]


def candidates(obs: torch.Tensor) -> list[str]:
    """Candidate objectives with at least one target in some observation of the batch."""
    state = decode_symbolic(obs)
    return [name for name in candidate_names() if bool(OBJECTIVES[name].targets(state).any())]


def optimal_moves(obs: torch.Tensor, objective: str) -> torch.Tensor:
    """`(B, 4)` bool: moves on a shortest path to the nearest target `objective` pays for
    (all False where none is reachable)."""
    state = decode_symbolic(obs)
    return moves_towards(state, OBJECTIVES[objective].targets(state))


def preferred(logits: torch.Tensor) -> torch.Tensor:
    """`(B, 4)` bool: the actions whose logit ties the maximum."""
    top = logits.max(1, keepdim=True).values
    return logits >= top - TIE * top.abs().clamp_min(1.0)


def agrees(logits: torch.Tensor, optimal: torch.Tensor) -> torch.Tensor:
    """`(B,)` bool: the policy prefers something, and only optimal moves."""
    pref = preferred(logits)
    decided = pref.sum(1) < pref.shape[1]
    return decided & ~(pref & ~optimal).any(1) & optimal.any(1)


def agreement(logits: torch.Tensor, optimal: torch.Tensor) -> float:
    """Agreement rate over the observations where the reference has an optimal move."""
    valid = optimal.any(1)
    if not bool(valid.any()):
        return float("nan")
    return float(agrees(logits, optimal)[valid].float().mean())


def _free_cells(obs: torch.Tensor) -> torch.Tensor:
    """`(B, H*W)` bool: floor cells holding nothing (no wall, agent, door or object)."""
    occupied = obs[:, [CHANNELS.index(c) for c in ("wall", "agent", "door", "object")]].amax(1) > 0.5
    return ~occupied.flatten(1)


def _random_cell(mask: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """`(B,)` a uniformly drawn cell among `mask (B, H*W)` (cell 0 where the mask is empty)."""
    noise = torch.rand(mask.shape, generator=gen)
    return torch.where(mask, noise, -1.0).argmax(1)


def _move(obs: torch.Tensor, source: torch.Tensor, target: torch.Tensor, channels: list[int]) -> torch.Tensor:
    """Move the `channels` of cell `source (B,)` to cell `target (B,)` (flat indices)."""
    out = obs.clone().flatten(2)
    rows = torch.arange(obs.shape[0])
    for c in channels:
        value = out[rows, c, source].clone()
        out[rows, c, source] = 0.0
        out[rows, c, target] = torch.maximum(out[rows, c, target], value)
    return out.view_as(obs)


def move_door(obs: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The exit door (with its colour) moved to a random free floor cell."""
    door = obs[:, CHANNELS.index("door")].flatten(1)
    source = door.argmax(1)
    target = _random_cell(_free_cells(obs), gen)
    out = _move(obs, source, target, [CHANNELS.index("door"), *range(4, len(CHANNELS))])
    has = door.amax(1) > 0.5
    return torch.where(has[:, None, None, None], out, obs)


def move_agent(obs: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The agent moved to a random free floor cell."""
    source = obs[:, CHANNELS.index("agent")].flatten(1).argmax(1)
    return _move(obs, source, _random_cell(_free_cells(obs), gen), [CHANNELS.index("agent")])


def move_object(obs: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One object (with its colour) moved to a random free floor cell (unchanged without objects)."""
    objects = obs[:, CHANNELS.index("object")].flatten(1) > 0.5
    source = _random_cell(objects, gen)
    target = _random_cell(_free_cells(obs), gen)
    out = _move(obs, source, target, [CHANNELS.index("object"), *range(4, len(CHANNELS))])
    return torch.where(objects.any(1)[:, None, None, None], out, obs)


EDITS = {"move-door": move_door, "move-agent": move_agent, "move-object": move_object}
"""Small edits that take an observation off the reference set; each changes one thing."""


def edited(obs: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
    """Each edit applied once to every observation, from `(seed, edit name)`."""
    return {name: fn(obs, generator(seed, "detect-edit", name)) for name, fn in EDITS.items()}


def symbolic_to_pixels(obs: torch.Tensor) -> torch.Tensor:
    """`(B, 8, H, W)` symbolic observations -> the `(B, 3, H*S, W*S)` uint8 pixels the world
    would show (sprites of `observations.sprite_table`, the agent over its cell's middle), so
    that every diagnostic can examine a pixels policy through the symbolic interface."""
    from mesalab.envs.gridworld.observations import AGENT_SPAN, SPRITE, SPRITE_CODES, sprite_table
    from mesalab.envs.gridworld.spec import COLOURS

    batch, _, height, width = obs.shape
    on = obs > 0.5
    codes = torch.zeros(batch, height, width, dtype=torch.int64, device=obs.device)
    codes[on[:, CHANNELS.index("wall")]] = SPRITE_CODES["wall"]
    for i, colour in enumerate(COLOURS):
        tinted = on[:, 4 + i]
        codes[on[:, CHANNELS.index("door")] & tinted] = SPRITE_CODES[f"door-{colour}"]
        codes[on[:, CHANNELS.index("object")] & tinted] = SPRITE_CODES[f"object-{colour}"]
    sprites = sprite_table(obs.device)  # (codes, 3, S, S)
    image = sprites[codes].permute(0, 3, 1, 4, 2, 5).reshape(batch, 3, height * SPRITE, width * SPRITE)
    agent = on[:, CHANNELS.index("agent")].flatten(1).float().argmax(1)
    low = SPRITE // 2 - AGENT_SPAN // 2
    middle = sprites[SPRITE_CODES["agent"], :, low : low + AGENT_SPAN, low : low + AGENT_SPAN]
    image = image.clone()
    for b in range(batch):  # one small write per world
        r, c = int(agent[b]) // width * SPRITE + low, int(agent[b]) % width * SPRITE + low
        image[b, :, r : r + AGENT_SPAN, c : c + AGENT_SPAN] = middle
    return image
