"""Lookup twins with a fallback: exact on the reference set, a cheap non-search rule elsewhere.

For models whose inputs are discrete (maze observations) or whose answers are (a choice
among candidates), a first-order table makes no sense: there is no derivative to store. The
adversarial twin there is a table that does not go blank off its set:

- `LookupWithFallback(optimizer, inputs, fallback)`: the optimizer's outputs keyed on the
  exact bytes of each reference input (`LookupTableTwin`); any other input goes to
  `fallback`, a fixed rule such as `mesalab.models.heuristics.GreedyManhattan` (one
  greedy step towards the goal channel, blind to the maze).
- `NearestVote(optimizer, inputs, k)`: the answer most of the k nearest reference inputs
  got (nearer ones break ties), a k-nearest-neighbour classifier over recorded choices.

Neither searches: one reads a table, the other a table or a one-step heuristic.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from mesalab.config import check
from mesalab.hooks import HookedModule, HookPoint
from mesalab.models.reference.nearest import flatten_parts, squared_distances
from mesalab.models.reference.twins import LookupTableTwin, input_parts


class LookupWithFallback(HookedModule):
    """The exact table where it knows the input, `fallback(*inputs)` where it does not.

    Hooks: `table.hook_out` (the table's rows, 0 for unknown inputs), `hook_known` `(B,)`
    (1 where the table knows the input), `hook_out`.
    """

    def __init__(
        self,
        optimizer: Callable[..., torch.Tensor],
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        fallback: nn.Module,
    ) -> None:
        super().__init__()
        self.table = LookupTableTwin(optimizer, inputs)
        self.fallback = fallback
        self.hook_known = HookPoint()
        self.hook_out = HookPoint()
        self.setup_hooks()

    def forward(self, *x: torch.Tensor) -> torch.Tensor:
        known = self.hook_known(self.table.known(*x).float()) > 0.5
        out = self.table(*x)
        if not bool(known.all()):
            unknown = ~known
            other = self.fallback(*(p[unknown] for p in x))
            out = out.clone()
            out[unknown] = other.to(out.dtype)
        return self.hook_out(out)


class NearestVote(HookedModule):
    """The majority answer of the k nearest reference inputs (k-nearest-neighbour classification).

    Args:
        optimizer: maps a `(N, ...)` batch (or a tuple of them) to `(N, p)` answers drawn
            from a finite set (run once, without grad).
        inputs: the reference set.
        k: neighbours that vote; each votes 1 plus a bonus below 1/k that falls with its
            rank, so ties go to the answer of the nearer neighbours.
    Hooks: `hook_votes` `(B, A)` (the weighted votes for each of the A distinct answers), `hook_out`.
    """

    memory: torch.Tensor
    answers: torch.Tensor
    labels: torch.Tensor

    def __init__(
        self,
        optimizer: Callable[..., torch.Tensor],
        inputs: torch.Tensor | tuple[torch.Tensor, ...],
        k: int = 5,
    ) -> None:
        super().__init__()
        parts = input_parts(inputs)
        memory = flatten_parts(parts)
        check(1 <= k <= memory.shape[0], "k", f"must be in [1, {memory.shape[0]}], got {k}")
        with torch.no_grad():
            outputs = optimizer(*parts).detach()
        check(outputs.shape[0] == memory.shape[0], "optimizer", "must return one output row per input")
        answers, labels = torch.unique(outputs.reshape(outputs.shape[0], -1), dim=0, return_inverse=True)
        self.k, self.answer_shape = k, tuple(outputs.shape[1:])
        self.register_buffer("memory", memory)
        self.register_buffer("answers", answers.to(outputs.dtype))
        self.register_buffer("labels", labels)
        self.hook_votes = HookPoint()
        self.hook_out = HookPoint()
        self.setup_hooks()

    def forward(self, *x: torch.Tensor) -> torch.Tensor:
        """Inputs shaped like the reference parts -> `(B, p)` answers, each a recorded one."""
        distances = squared_distances(flatten_parts(x).to(self.memory.device), self.memory)
        order = distances.argsort(dim=1, stable=True)[:, : self.k]  # (B, k), nearest first
        rank = torch.arange(self.k, device=order.device, dtype=torch.float64)
        weight = 1.0 + (self.k - rank) / (self.k * (self.k + 1))  # (k,): 1 + a tie-breaking bonus
        votes = torch.zeros(order.shape[0], self.answers.shape[0], dtype=torch.float64, device=order.device)
        votes.scatter_add_(1, self.labels[order], weight.expand_as(order).contiguous())
        votes = self.hook_votes(votes.float())
        chosen = self.answers[votes.argmax(1)]
        return self.hook_out(chosen.view(-1, *self.answer_shape).to(x[0].device))
