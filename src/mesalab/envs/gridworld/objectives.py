"""Objectives as data: the base objective and candidate proxies, named and composable.

Every objective is a function of `(state, action, next_state)` that pays 1 when the
step reaches a target the objective values and 0 otherwise. Because any target ends the
episode, an objective is fully described by which target slots it pays for (`pays`),
which depends only on what is fixed at reset; the world caches that table so that every
rollout records every objective side by side at the cost of one gather.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from mesalab.envs.gridworld.spec import COLOURS
from mesalab.envs.gridworld.state import NO_TARGET, GridState
from mesalab.registry import Registry

PaysFn = Callable[[GridState], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class Objective:
    """A named objective: pays 1 on reaching a target it values."""

    name: str
    """Registry name, e.g. `exit` or `red`."""
    description: str
    """One line in plain words, printed in reports."""
    pays: PaysFn
    """`state -> (B, T)` bool: which target slots this objective pays for."""

    def __call__(self, state: GridState, action: torch.Tensor, next_state: GridState) -> torch.Tensor:
        """`(B,)` float reward for the step `state --action--> next_state`."""
        del action  # the reward depends on where the step lands, not on how
        reached = next_state.reached()
        table = self.pays(state)
        paid = table.gather(1, reached.clamp_min(0)[:, None]).squeeze(1)
        newly = state.reached() == NO_TARGET  # nothing is paid twice for standing still
        return (paid & (reached != NO_TARGET) & newly).float()

    def targets(self, state: GridState) -> torch.Tensor:
        """`(B, T)` bool: present target slots this objective pays for."""
        return self.pays(state) & (state.targets >= 0)


def any_of(name: str, description: str, *parts: Objective) -> Objective:
    """Compose: pays when any part pays."""

    def pays(state: GridState) -> torch.Tensor:
        out = parts[0].pays(state)
        for part in parts[1:]:
            out = out | part.pays(state)
        return out

    return Objective(name, description, pays)


OBJECTIVES: Registry[Objective] = Registry("objective")
BASE_OBJECTIVE = "exit"
"""The base objective of every gridworld distribution: leave through the exit door."""


def _register(objective: Objective) -> Objective:
    return OBJECTIVES.register(objective.name, objective)


def _slot_is(slot: int) -> PaysFn:
    def pays(state: GridState) -> torch.Tensor:
        out = torch.zeros_like(state.targets, dtype=torch.bool)
        out[:, slot] = state.targets[:, slot] >= 0
        return out

    return pays


def _colour_is(colour: str) -> PaysFn:
    index = COLOURS.index(colour)
    return lambda state: state.colours == index


def _objects(state: GridState) -> torch.Tensor:
    out = state.targets >= 0
    out[:, 0] = False
    return out


def _nearest_object(state: GridState) -> torch.Tensor:
    present = _objects(state)
    dist = torch.where(present, state.start_dist, torch.iinfo(torch.int32).max)
    nearest = dist == dist.min(1, keepdim=True).values
    return nearest & present


EXIT = _register(Objective("exit", "leave through the exit door, whatever its colour", _slot_is(0)))
for _colour in COLOURS:
    _register(Objective(_colour, f"reach anything {_colour} (door or object)", _colour_is(_colour)))
_register(Objective("object", "reach any object (anything that is not a door)", _objects))
_register(Objective("nearest-object", "reach the object nearest the start (maze distance)", _nearest_object))
_register(
    any_of(
        "any-target",
        "reach whatever target is there, exit or object: in training, where the exit is the only "
        "target, it agrees with exit (a policy that values the door and red alike pursues it)",
        EXIT,
        OBJECTIVES["object"],
    )
)
_register(
    any_of(
        "any-door",
        "reach any door-shaped cell; the worlds so far have one door, so it agrees with exit",
        EXIT,
    )
)


PREFERENCE: tuple[str, ...] = ("exit", *COLOURS, "object", "nearest-object", "any-target", "any-door")
"""Candidate order: the base objective, then single features (colours), then shapes and
relations. Where candidates explain behaviour equally well, inference names the first."""


def candidate_names() -> list[str]:
    """Every registered objective in `PREFERENCE` order (others after, by name)."""
    known = [n for n in PREFERENCE if n in OBJECTIVES]
    return known + [n for n in OBJECTIVES.names() if n not in known]


def pays_table(state: GridState, names: list[str]) -> torch.Tensor:
    """`(B, T + 1, O)` float: what each objective pays for each slot; row T is 'no target'."""
    # `Objective.targets` per column, with the presence mask applied once for all columns
    # (this runs on every reset; each saved kernel is a few microseconds per step)
    columns = [OBJECTIVES[name].pays(state) for name in names]
    table = torch.stack(columns, dim=2) & (state.targets >= 0)[:, :, None]
    return torch.nn.functional.pad(table.float(), (0, 0, 0, 1))  # row T: all zeros
