"""Named hook points, TransformerLens style, with scoped interventions.

A `HookPoint` is an identity module placed around an activation. A `HookedModule` names
each of its hook points by module path (`torso.hook_features`, `blocks.0.hook_resid_post`,
`iters.3.hook_state`), so a detector can line a model up against a reference by name.
`run_with_cache` records activations; `hooks(...)` attaches functions for the length of a
`with` block and removes them on exit, errors included.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import nn

from mesalab.errors import MesalabError

HookFn = Callable[[torch.Tensor, "HookPoint"], torch.Tensor | None]
NamesFilter = Callable[[str], bool] | Iterable[str] | str | None


class HookPoint(nn.Module):
    """Identity on its input; the place a hook function reads or replaces an activation."""

    def __init__(self) -> None:
        super().__init__()
        self.name = ""

    def add_hook(self, fn: HookFn) -> torch.utils.hooks.RemovableHandle:
        def forward_hook(module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor | None:
            return fn(output, self)

        return self.register_forward_hook(forward_hook)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class HookedModule(nn.Module):
    """A module whose hook points are named by their module path."""

    def setup_hooks(self) -> None:
        """Name every `HookPoint`; call at the end of `__init__`."""
        for name, module in self.named_modules():
            if isinstance(module, HookPoint):
                module.name = name

    def hook_points(self) -> dict[str, HookPoint]:
        return {name: m for name, m in self.named_modules() if isinstance(m, HookPoint)}

    def hook_names(self) -> list[str]:
        """Hook names in module order (the order a forward pass meets them for our models)."""
        return list(self.hook_points())

    @contextlib.contextmanager
    def hooks(
        self, fwd_hooks: Iterable[tuple[str | Callable[[str], bool], HookFn]]
    ) -> Iterator[HookedModule]:
        """Attach `(name or predicate, fn)` pairs for the block; nothing stays attached after."""
        points = self.hook_points()
        handles = []
        try:
            for selector, fn in fwd_hooks:
                names = _select(points, selector)
                for name in names:
                    handles.append(points[name].add_hook(fn))
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def run_with_cache(
        self, *args: Any, names_filter: NamesFilter = None, **kwargs: Any
    ) -> tuple[Any, dict[str, torch.Tensor]]:
        """Run forward and return `(output, cache)` with the selected activations."""
        points = self.hook_points()
        selected = _select(points, names_filter) if names_filter is not None else list(points)
        cache: dict[str, torch.Tensor] = {}

        def save(activation: torch.Tensor, hook: HookPoint) -> None:
            cache[hook.name] = activation.detach()

        with self.hooks([(name, save) for name in selected]):
            output = self(*args, **kwargs)
        return output, cache


def _select(points: dict[str, HookPoint], selector: Any) -> list[str]:
    if callable(selector):
        return [name for name in points if selector(name)]
    names = [selector] if isinstance(selector, str) else list(selector)
    unknown = [n for n in names if n not in points]
    if unknown:
        raise MesalabError(f"unknown hook point {unknown[0]!r} (allowed: {', '.join(points)})")
    return names


def attached_hook_count(model: nn.Module) -> int:
    """Forward hooks attached anywhere in `model`: 0 after every scoped intervention."""
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules()
    )
