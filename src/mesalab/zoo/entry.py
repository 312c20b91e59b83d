"""A zoo entry: a model whose ground truth (optimizer or not, and its objective) is known.

Three domains, each with one call signature that every model of it follows:

- `gridworld`: `model(obs (B, 8, H, W) symbolic) -> action logits (B, 4)`
  (`mesalab.envs.gridworld`, channels `CHANNELS`); reference inputs: `obs (N, 8, H, W)`.
- `icl`: `model(x (B, N, d), y (B, N), x_query (B, d)) -> prediction (B,)`
  (as `mesalab.models.reference.gd.GradientDescent`); reference inputs: `(x, y, x_query)`.
- `choice`: `model(z (B, m)) -> answer (B, p)` (as `relu_max.BestOfKChooser`);
  reference inputs: `z (N, m)`.

Test-time compute: a model that can think longer names the keyword of its `forward` in
the class attribute `compute_argument` and its default in `default_compute`;
`model(*inputs, **{model.compute_argument: n})` runs it with n units of compute.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mesalab.config import check, check_choice

DOMAINS: tuple[str, ...] = ("gridworld", "icl", "choice")
"""The model families of the zoo, each with its own call signature (module docstring)."""

TRUTHS: tuple[str, ...] = ("optimizer", "not-optimizer", "unknown")
"""Ground truths: known optimizers, known non-optimizers, and trained models nobody has labelled."""


@dataclass(frozen=True)
class ZooEntry:
    """One model of the zoo and what is known about it."""

    name: str
    """Unique name: `value-iteration`, `value-iteration-lookup`, `trained/RUN/models/narrow-seed0`."""
    domain: str
    """One of `DOMAINS`: fixes the call signature."""
    truth: str
    """One of `TRUTHS`."""
    objective: str | None
    """For optimizers, the machine-readable objective: a gridworld channel (`door`) or objective
    (`exit`), `in-context-squared-error`, `chooser-score`; None otherwise."""
    build: Callable[[], nn.Module]
    """Builds the model: deterministic, CPU, seconds at most (twins fit to their optimizer here)."""
    description: str
    """One or two sentences: what it is and why its truth is what it is."""
    twin_of: str | None = None
    """For twins: the optimizer whose outputs they copy on the reference set."""
    reference_inputs: Callable[[], Any] | None = None
    """The reference input set (see the module docstring for each domain's form); a twin matches
    its optimizer exactly on it."""
    world: str | None = None
    """Gridworld models: the registered distribution the model is meant for, e.g. `red-door/train`."""
    source: str | None = None
    """Trained (unknown) entries: the model file."""

    def __post_init__(self) -> None:
        check(
            bool(self.name) and self.name == self.name.strip(),
            "name",
            f"must be a plain name, got {self.name!r}",
        )
        check_choice(self.domain, "domain", DOMAINS)
        check_choice(self.truth, "truth", TRUTHS)
        if self.truth == "optimizer":
            check(bool(self.objective), "objective", f"{self.name}: an optimizer needs its objective")
        else:
            check(self.objective is None, "objective", f"{self.name}: only optimizers have a known objective")
        check(
            self.twin_of is None or self.truth == "not-optimizer",
            "twin_of",
            f"{self.name}: a twin is a non-optimizer",
        )
        check(
            self.truth != "unknown" or self.source is not None, "source", f"{self.name}: needs its model file"
        )

    def call(self, model: nn.Module, inputs: Any, **kwargs: Any) -> torch.Tensor:
        """Run `model` on inputs of this entry's domain (a tuple is spread for `icl`)."""
        return call_model(model, self.domain, inputs, **kwargs)


def call_model(model: Callable[..., torch.Tensor], domain: str, inputs: Any, **kwargs: Any) -> torch.Tensor:
    """`model(*inputs)` for `icl` (x, y, x_query), `model(inputs)` otherwise."""
    check_choice(domain, "domain", DOMAINS)
    if domain == "icl":
        return model(*inputs, **kwargs)
    return model(inputs, **kwargs)


def compute_argument(model: nn.Module) -> str | None:
    """The keyword with which `model` thinks longer, or None if it cannot."""
    return getattr(model, "compute_argument", None)
