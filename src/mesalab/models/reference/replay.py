"""A replay twin: an optimizer's intermediate states, recorded once and played back by name.

`StateReplay` runs an optimizer on its reference inputs once, records every hook activation
(`iters.{k}.hook_iterate`, `iters.{t}.hook_state`, `hook_scores`, `blocks.{i}.hook_resid_post`,
...) and its output, and rebuilds a module tree with hook points of the very same names. On
any input it finds the nearest stored input and passes that input's recorded states through
the hooks, in the order the optimizer met them, then returns that input's recorded output.
The optimizer's own buffers (its candidates, its goal weights) are carried along under the
same names and never used.

From the outside (hook names, cached states on the reference set, buffers, outputs) it looks
like the optimizer; inside it is a table with a nearest-neighbour key. It is not a subclass
of the optimizer's class, so a diagnostic that keys on classes does not examine it, and one
that keys on hook names must check the states on fresh inputs: there they are the states of
some other input, and they do not improve that input's objective.

Where a recorded state equals the output (a `hook_logits` or `hook_out`), the output is
what that hook returns, so an intervention on it acts as it would on the optimizer.
"""

from __future__ import annotations

import torch
from torch import nn

from mesalab.config import check
from mesalab.hooks import HookedModule, HookPoint
from mesalab.models.reference.nearest import flatten_parts, nearest_index
from mesalab.models.reference.twins import input_parts


class StateReplay(HookedModule):
    """Recorded hook states and outputs of `optimizer`, replayed for the nearest stored input.

    Args:
        optimizer: a `HookedModule` taking a `(N, ...)` batch (or a tuple of them, as
            positional arguments); every hook activation it records must be `(N, ...)`.
        inputs: the reference set `(N, ...)`, or a tuple of tensors sharing N.
    Hooks: exactly the optimizer's hook names that fire on a forward pass, in firing order.
    """

    memory: torch.Tensor
    outputs: torch.Tensor

    def __init__(self, optimizer: HookedModule, inputs: torch.Tensor | tuple[torch.Tensor, ...]) -> None:
        super().__init__()
        parts = input_parts(inputs)
        memory = flatten_parts(parts)
        count = memory.shape[0]
        with torch.no_grad():
            outputs, cache = optimizer.run_with_cache(*parts)
        check(outputs.shape[0] == count, "optimizer", "must return one output row per input")
        check(bool(cache), "optimizer", "has no hook that fires on a forward pass: nothing to replay")
        for name, state in cache.items():
            check(
                state.dim() >= 1 and state.shape[0] == count, "optimizer", f"{name} is not one row per input"
            )
        self.shapes = [tuple(p.shape[1:]) for p in parts]
        self.register_buffer("memory", memory)
        self.register_buffer("outputs", outputs.detach().clone())
        for name, buffer in optimizer.named_buffers(recurse=False):
            check(not hasattr(self, name), "optimizer", f"buffer {name!r} clashes with the replay's own")
            self.register_buffer(name, buffer.detach().clone())
        self.state_names = list(cache)
        for i, name in enumerate(self.state_names):
            self.register_buffer(f"state_{i}", cache[name].clone())
            _install(self, name)
        # the last state that is the output itself: the output flows through that hook
        same = [n for n in self.state_names if _same(cache[n], outputs)]
        self.output_state = same[-1] if same else None
        self.setup_hooks()
        with torch.no_grad():
            replay = self(*parts)
        check(
            torch.equal(replay, outputs), "inputs", "the replay does not reproduce its reference set exactly"
        )

    def forward(self, *x: torch.Tensor) -> torch.Tensor:
        """Inputs shaped like the reference parts, `(B, ...)` each -> the stored `(B, ...)` outputs."""
        shapes = [tuple(p.shape[1:]) for p in x]
        check(shapes == self.shapes, "inputs", f"must have row shapes {self.shapes}, got {shapes}")
        nearest = nearest_index(flatten_parts(x).to(self.memory.device), self.memory)
        points = self.hook_points()
        out = self.outputs[nearest]
        for i, name in enumerate(self.state_names):
            state = points[name](getattr(self, f"state_{i}")[nearest])
            if name == self.output_state:
                out = state
        return out.to(x[0].device)


def _same(state: torch.Tensor, output: torch.Tensor) -> bool:
    return state.shape == output.shape and state.dtype == output.dtype and torch.equal(state, output)


def _install(root: nn.Module, name: str) -> None:
    """A `HookPoint` at the dotted path `name`, with plain containers for the parents."""
    *parents, leaf = name.split(".")
    module = root
    for part in parents:
        if not hasattr(module, part) or not isinstance(getattr(module, part), nn.Module):
            module.add_module(part, nn.Module())
        module = getattr(module, part)
    module.add_module(leaf, HookPoint())
