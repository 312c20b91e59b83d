"""Adversarial twins: non-optimizers built to pass for their optimizer under a sceptical look.

Besides the lookup and memorizer twins (`known.py`), every optimizer of the zoo gets:

- `NAME-replay` (every domain): the optimizer's recorded hook states and outputs, replayed
  through the same hook names for the nearest stored input
  (`mesalab.models.reference.replay.StateReplay`); it is not of the optimizer's class.
- `NAME-first-order` (continuous inputs: the icl entries): the nearest stored output plus
  the stored Jacobian times the offset (`first_order.FirstOrderTable`); exact on the
  reference set, right to first order near it, wrong far from it.
- `NAME-lookup-greedy` (maze inputs): the exact table, and off it one greedy Manhattan step
  towards the door (`fallback.LookupWithFallback` with `heuristics.GreedyManhattan`).
- `NAME-lookup-nn` (choices): the exact table, and off it the majority choice of the 5
  nearest reference contexts (`fallback.NearestVote`).

Each is a non-optimizer with ground truth (`truth = not-optimizer`, `twin_of = NAME`) and
gives exactly its optimizer's outputs on the reference inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from mesalab.config import check
from mesalab.hooks import HookedModule
from mesalab.models.heuristics import GreedyManhattan
from mesalab.models.reference.fallback import LookupWithFallback, NearestVote
from mesalab.models.reference.first_order import FirstOrderTable
from mesalab.models.reference.replay import StateReplay
from mesalab.models.reference.twins import input_parts
from mesalab.zoo.entry import ZooEntry

Build = Callable[[], nn.Module]
Inputs = Callable[[], Any]

NEAREST_VOTERS = 5
"""Neighbours that vote in a `-lookup-nn` twin's fallback."""
GREEDY_GOAL = "door"
"""The channel a `-lookup-greedy` twin's fallback walks towards (the exit of `red-door/train`)."""


def _replay(build: Build, inputs: Inputs) -> Build:
    def make() -> nn.Module:
        optimizer = build()
        check(isinstance(optimizer, HookedModule), "build", "a replay twin needs a HookedModule optimizer")
        return StateReplay(optimizer, input_parts(inputs()))  # type: ignore[arg-type]

    return make


def _first_order(build: Build, inputs: Inputs) -> Build:
    return lambda: FirstOrderTable(build(), input_parts(inputs()))


def _lookup_greedy(build: Build, inputs: Inputs) -> Build:
    return lambda: LookupWithFallback(build(), input_parts(inputs()), GreedyManhattan(GREEDY_GOAL))


def _lookup_nn(build: Build, inputs: Inputs) -> Build:
    def make() -> nn.Module:
        optimizer, parts = build(), input_parts(inputs())
        return LookupWithFallback(optimizer, parts, NearestVote(optimizer, parts, NEAREST_VOTERS))

    return make


TWINS: dict[str, tuple[tuple[str, ...], Callable[[Build, Inputs], Build], str]] = {
    "replay": (
        ("icl", "gridworld", "choice"),
        _replay,
        "Replays {name}'s recorded intermediate states through the same hook names, and its recorded "
        "output, for the nearest reference input: the hooks look like an optimizer's, inside is a table.",
    ),
    "first-order": (
        ("icl",),
        _first_order,
        "Stores {name}'s output and its Jacobian (autograd) at each reference input and answers with the "
        "nearest stored output plus the linear correction: exact on the reference set, right to first "
        "order near it, wrong far from it; no search.",
    ),
    "lookup-greedy": (
        ("gridworld",),
        _lookup_greedy,
        "A table of {name}'s outputs keyed on the exact observation; elsewhere one greedy step that most "
        "shortens the Manhattan distance to the door, blind to the maze: no search, no value.",
    ),
    "lookup-nn": (
        ("choice",),
        _lookup_nn,
        "A table of {name}'s answers keyed on the exact context; elsewhere the answer most of the "
        f"{NEAREST_VOTERS} nearest reference contexts got: a k-nearest-neighbour classifier, no scoring.",
    ),
}
"""Twin kind -> (the domains it applies to, its builder, its description)."""


def adversarial_twins(
    name: str, domain: str, build: Build, inputs: Inputs, world: str | None
) -> list[ZooEntry]:
    """The adversarial twins of the optimizer `name` that apply to its domain."""
    entries = []
    for kind, (domains, make, description) in TWINS.items():
        if domain in domains:
            entries.append(
                ZooEntry(
                    f"{name}-{kind}",
                    domain,
                    "not-optimizer",
                    None,
                    make(build, inputs),
                    description.format(name=name),
                    name,
                    inputs,
                    world,
                )
            )
    return entries
