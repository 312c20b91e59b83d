"""`MixtureWorld`: each episode drawn from one of two world specs, per (seed, world, episode).

    world = MixtureWorld(get_distribution("red-door/train"), get_distribution("red-door/diverse"),
                         alt_fraction=0.05, batch_size=128, seed=0)

is a `GridWorld` (so PPO, assessment and the Gymnasium adapters take it) in which 5% of
episodes, in expectation, come from `red-door/diverse` and the rest from `red-door/train`:
the training diversity axis of the emergence experiment. The two specs must agree on
everything that fixes the maze itself (size, step limit, layout bank size and seed); they may
differ in colours and object counts. Both draw their mazes from the layout bank of the spec
with more object slots, so at `alt_fraction=0` the mazes are those of a pure world of that
bank, with `base`'s colours and object counts.
"""

from __future__ import annotations

import torch

from mesalab.config import check
from mesalab.envs.gridworld.buffers import colour_map
from mesalab.envs.gridworld.spec import WorldSpec
from mesalab.envs.gridworld.world import GridWorld
from mesalab.seeding import hash32

SHARED_FIELDS = ("size", "max_steps", "num_layouts", "layout_seed")
"""Fields both components must share: they fix the mazes and the episode length."""

_RESOLUTION = 1 << 20
"""The component draw compares a 20-bit hash with `alt_fraction * 2**20`."""


class MixtureWorld(GridWorld):
    """B worlds whose every episode comes from `alt` with probability `alt_fraction`, else `base`.

    `spec` is the component with more object slots (the one whose layout bank is used);
    `specs` holds `(base, alt)`; `self.component` `(B,)` says which one each world's current
    episode came from (1 = alt).
    """

    def __init__(
        self,
        base: WorldSpec,
        alt: WorldSpec,
        alt_fraction: float,
        batch_size: int,
        seed: int = 0,
        obs_mode: str = "symbolic",
        device: str | torch.device = "cpu",
        autoreset: bool = True,
        world_ids: torch.Tensor | list[int] | None = None,
        fused: bool = False,
    ) -> None:
        check(
            0.0 <= alt_fraction <= 1.0,
            "alt_fraction",
            f"must be a probability, got {alt_fraction}",
            "a number in [0, 1]",
        )
        check(
            not (base.shortcut or alt.shortcut),
            "shortcut",
            "a mixture draws no overseer or restricted cell; mix red-door specs only",
            "shortcut=false in both components",
        )
        for name in SHARED_FIELDS:
            check(
                getattr(base, name) == getattr(alt, name),
                name,
                f"the two components differ ({getattr(base, name)} vs {getattr(alt, name)})",
                "components that share " + ", ".join(SHARED_FIELDS),
            )
        self.specs = (base, alt)
        self.alt_fraction = float(alt_fraction)
        self._threshold = round(self.alt_fraction * _RESOLUTION)
        bank_spec = alt if alt.max_objects > base.max_objects else base
        super().__init__(bank_spec, batch_size, seed, obs_mode, device, autoreset, world_ids, fused)

    def _prepare_draws(self) -> None:
        """Per component: draw ranges, colour maps and the object-count offset, stacked `(2, ...)`."""
        slots = self.spec.max_objects
        moduli, exit_maps, object_maps = [], [], []
        for spec in self.specs:
            row = [spec.num_layouts, 8, spec.max_objects - spec.min_objects + 1, len(spec.exit_colours)]
            row += [max(len(spec.object_colours), 1)] * slots
            moduli.append(row)
            exit_maps.append(colour_map(spec.exit_colours, self.device))
            object_maps.append(colour_map(spec.object_colours or ("red",), self.device))
        self._draw_offsets = torch.arange(len(moduli[0]), device=self.device) * 0x9E3779B1
        self._component_moduli = torch.tensor(moduli, dtype=torch.int64, device=self.device)
        self._component_exit_maps = exit_maps
        self._component_object_maps = object_maps
        self._min_objects = torch.tensor([s.min_objects for s in self.specs], device=self.device)

    @property
    def component(self) -> torch.Tensor:
        """`(B,)` int64: 1 where the current episode was drawn from `alt`, else 0."""
        return self.tags["component"]

    def _episode_draws(self, index: torch.Tensor, episodes: torch.Tensor) -> dict[str, torch.Tensor]:
        """As `GridWorld._episode_draws`, with a component draw first deciding the ranges."""
        base = hash32(self._keys[index] ^ hash32(episodes * 4099 + 17))
        component = (hash32(base ^ 0x5BD1E995) % _RESOLUTION < self._threshold).long()
        raw = hash32(base[:, None] + self._draw_offsets[None])
        draws = raw % self._component_moduli[component]
        exit_colour = torch.where(
            component == 1,
            self._component_exit_maps[1][draws[:, 3] % len(self.specs[1].exit_colours)],
            self._component_exit_maps[0][draws[:, 3] % len(self.specs[0].exit_colours)],
        )
        objects = draws[:, 4:]
        object_colour = torch.where(
            component[:, None] == 1,
            self._component_object_maps[1][objects % self._component_object_maps[1].numel()],
            self._component_object_maps[0][objects % self._component_object_maps[0].numel()],
        )
        return {
            "layout": draws[:, 0],
            "symmetry": draws[:, 1],
            "num_objects": self._min_objects[component] + draws[:, 2],
            "colours": torch.cat([exit_colour[:, None], object_colour], dim=1),
            "component": component,
        }
