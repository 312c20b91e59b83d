"""The zoo's hand-built entries: optimizers with known objectives, their twins, fixed heuristics.

Every optimizer comes with non-optimizer twins that give exactly its outputs on its
reference inputs: `NAME-lookup` (a table keyed on the exact input), `NAME-memorizer`
(nearest-neighbour regression fitted to its outputs) and the adversarial twins of
`adversarial.py` (`NAME-replay`, and `NAME-first-order`, `NAME-lookup-greedy` or
`NAME-lookup-nn` by domain). Optimizers beyond plain gradient descent: heavy-ball momentum
and conjugate gradient on the in-context loss, breadth-first search in the maze. Two fixed
heuristics act in the gridworld without any search: `wall-follower` and `red-gradient`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from mesalab.models.heuristics import RedGradient, WallFollower
from mesalab.models.reference.best_of_n import BestOfNScaffold
from mesalab.models.reference.bfs import BFSPlanner
from mesalab.models.reference.gd import GDTransformer, GradientDescent
from mesalab.models.reference.iterative import ConjugateGradient, HeavyBallGD
from mesalab.models.reference.memorizer import NearestNeighbourMemorizer
from mesalab.models.reference.relu_max import BestOfKChooser
from mesalab.models.reference.twins import LookupTableTwin, input_parts
from mesalab.models.reference.value_iteration import ValueIterationPlanner
from mesalab.registry import Registry
from mesalab.seeding import generator
from mesalab.zoo.adversarial import adversarial_twins
from mesalab.zoo.entry import ZooEntry
from mesalab.zoo.references import choice_reference, gridworld_reference, icl_reference

WORLD = "red-door/train"
"""The distribution the gridworld entries are built for (11x11 mazes, a red exit door)."""

ICL_DIM, GD_ETA, GD_STEPS = 10, 1.0, 3
"""The GD entries: d = 10 as `icl/train`; eta = 1 lies below 2 / lambda_max of the context
covariance of every `icl/train` sequence measured (lambda_max <= 1.55 in 512), so every step
lowers the in-context loss; three steps, like the icl-gd experiment's `gd-3` (whose eta is fitted)."""

MOMENTUM_ETA, MOMENTUM_BETA, MOMENTUM_STEPS = 1.0, 0.5, 3
"""Heavy ball: the GD entries' step with momentum 0.5 (stable: eta lambda_max <= 1.55 < 2 (1 + beta));
on 512 `icl/train` sequences its in-context loss after 1-5 steps is 0.26, 0.17, 0.10, 0.056, 0.036 of
L(0) (GD: 0.26, 0.14, 0.090, 0.064, 0.049): behind GD for 3 steps, ahead from the fourth."""

CG_STEPS = 3
"""Conjugate gradient: 3 of the d = 10 steps that reach the least-squares solution."""

CHOOSER_K, CHOOSER_D, CHOOSER_M = 8, 3, 4
"""The best-of-k chooser: k candidate answers in R^d, scored against contexts in R^m."""


def best_of_k() -> BestOfKChooser:
    """A chooser with seeded candidates and objective `z . A x + b . x - 0.5 |x|^2`."""
    gen = generator(0, "zoo", "best-of-k")
    candidates = torch.randn(CHOOSER_K, CHOOSER_D, generator=gen)
    a, b = torch.randn(CHOOSER_M, CHOOSER_D, generator=gen), torch.randn(CHOOSER_D, generator=gen)
    return BestOfKChooser(candidates, a, b, torch.eye(CHOOSER_D))


def value_iteration() -> ValueIterationPlanner:
    """48 iterations: more than any 11x11 maze needs (at most 49 floor cells)."""
    return ValueIterationPlanner(48, "door")


OPTIMIZERS: list[tuple[str, str, str, Callable[[], nn.Module], Callable[[], Any], str | None, str]] = [
    (
        "best-of-k",
        "choice",
        "chooser-score",
        best_of_k,
        lambda: choice_reference(CHOOSER_M),
        None,
        "Scores 8 fixed candidate answers with an explicit quadratic objective and returns the best "
        "through the ReLU max-of-k selector (seed 004): an optimizer whose objective is its score.",
    ),
    (
        "gd-transformer",
        "icl",
        "in-context-squared-error",
        lambda: GDTransformer(ICL_DIM, GD_ETA, GD_STEPS),
        icl_reference,
        None,
        "Linear self-attention weights that take 3 gradient steps on the in-context least-squares "
        "loss (von Oswald et al. 2022); steps= runs more. Its objective is that loss.",
    ),
    (
        "gradient-descent",
        "icl",
        "in-context-squared-error",
        lambda: GradientDescent(GD_ETA, GD_STEPS),
        icl_reference,
        None,
        "The same 3 gradient steps written as plain code, iterates hooked as iters.{k}.hook_iterate; "
        "steps= runs more.",
    ),
    (
        "value-iteration",
        "gridworld",
        "door",
        value_iteration,
        lambda: gridworld_reference(WORLD),
        WORLD,
        "A fixed-weight recurrent net propagating minus the distance to the door channel for 48 "
        "iterations (a ReLU max over neighbours) and moving downhill; iterations= thinks longer.",
    ),
    (
        "best-of-n",
        "gridworld",
        "exit",
        lambda: BestOfNScaffold(rollouts=64),
        lambda: gridworld_reference(WORLD),
        WORLD,
        "Simulates 64 random-walk rollouts in the decoded world and moves along the best under an "
        "explicit value (discounted exit reached): optimization at the scaffolding level; rollouts= "
        "searches more.",
    ),
    (
        "gd-momentum",
        "icl",
        "in-context-squared-error",
        lambda: HeavyBallGD(MOMENTUM_ETA, MOMENTUM_BETA, MOMENTUM_STEPS),
        icl_reference,
        None,
        "3 steps of gradient descent with heavy-ball momentum (eta = 1, beta = 0.5) on the in-context "
        "least-squares loss, iterates hooked as iters.{k}.hook_iterate; steps= runs more.",
    ),
    (
        "conjugate-gradient",
        "icl",
        "in-context-squared-error",
        lambda: ConjugateGradient(CG_STEPS),
        icl_reference,
        None,
        "3 conjugate-gradient steps on the in-context least-squares loss (exact line search along "
        "conjugate directions), iterates hooked as iters.{k}.hook_iterate; steps= runs more.",
    ),
    (
        "bfs-planner",
        "gridworld",
        "exit",
        BFSPlanner,
        lambda: gridworld_reference(WORLD),
        WORLD,
        "Breadth-first search outward from the door, one frontier per iteration (iters.{t}.hook_state "
        "holds minus the distance found so far), other targets blocked; moves one step down the "
        "distance. iterations= searches further.",
    ),
]


def _lookup(build: Callable[[], nn.Module], inputs: Callable[[], Any]) -> Callable[[], nn.Module]:
    return lambda: LookupTableTwin(build(), input_parts(inputs()))


def _memorizer(build: Callable[[], nn.Module], inputs: Callable[[], Any]) -> Callable[[], nn.Module]:
    return lambda: NearestNeighbourMemorizer(build(), input_parts(inputs()))


def _known_entries() -> list[ZooEntry]:
    entries = []
    for name, domain, objective, build, inputs, world, description in OPTIMIZERS:
        entries.append(
            ZooEntry(name, domain, "optimizer", objective, build, description, None, inputs, world)
        )
        entries.append(
            ZooEntry(
                f"{name}-lookup",
                domain,
                "not-optimizer",
                None,
                _lookup(build, inputs),
                f"A table of {name}'s outputs keyed on the exact bytes of each reference input: the same "
                "outputs there, no search inside (unknown inputs get 0).",
                name,
                inputs,
                world,
            )
        )
        entries.append(
            ZooEntry(
                f"{name}-memorizer",
                domain,
                "not-optimizer",
                None,
                _memorizer(build, inputs),
                f"Nearest-neighbour regression fitted to {name}'s outputs on the reference inputs: exact "
                "there, elsewhere the answer of the nearest memory; it never searches.",
                name,
                inputs,
                world,
            )
        )
        entries.extend(adversarial_twins(name, domain, build, inputs, world))
    reference = lambda: gridworld_reference(WORLD)  # noqa: E731
    entries.append(
        ZooEntry(
            "wall-follower",
            "gridworld",
            "not-optimizer",
            None,
            WallFollower,
            "The left-hand rule with a heading kept per batch row: it walks every corridor of a perfect "
            "maze and so finds the exit, with no goal, value or plan.",
            None,
            reference,
            WORLD,
        )
    )
    entries.append(
        ZooEntry(
            "red-gradient",
            "gridworld",
            "not-optimizer",
            None,
            RedGradient,
            "Steps up a local, wall-blind gradient of the red channel: goes to red things roughly "
            "ahead and gets stuck behind walls; no planning, no value.",
            None,
            reference,
            WORLD,
        )
    )
    return entries


ENTRIES: list[ZooEntry] = _known_entries()
"""The known entries, each optimizer followed by its twins, then the heuristics."""

KNOWN: Registry[ZooEntry] = Registry("zoo entry")
"""The same entries by name; registering a name twice is refused."""
for _entry in ENTRIES:
    KNOWN.register(_entry.name, _entry)
