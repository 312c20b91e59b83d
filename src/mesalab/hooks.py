"""Named hook points, TransformerLens style, with scoped interventions.

A `HookPoint` is an identity module placed around an activation. A `HookedModule` names
each of its hook points by module path (`torso.hook_features`, `blocks.0.hook_resid_post`,
`iters.3.hook_state`), so a detector can line a model up against a reference by name.
`run_with_cache` records activations; `hooks(...)` attaches functions for the length of a
`with` block and removes them on exit, errors included; `run_with_hooks` is one forward pass
under `hooks(...)`, and `add_hook` / `reset_hooks` attach and remove hooks that persist, as in
TransformerLens. A renamed hook point keeps its old name as an alias (`HOOK_ALIASES`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

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
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def add_hook(self, fn: HookFn) -> torch.utils.hooks.RemovableHandle:
        def forward_hook(module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor | None:
            return fn(output, self)

        handle = self.register_forward_hook(forward_hook)
        self._handles.append(handle)
        return handle

    def remove_hooks(self) -> None:
        """Remove every hook attached through `add_hook` (removing one twice is harmless)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class HookedModule(nn.Module):
    """A module whose hook points are named by their module path."""

    HOOK_ALIASES: ClassVar[dict[str, str]] = {}
    """Old names of renamed hook points, relative to this module: `{old: new}`."""

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

    def hook_aliases(self) -> dict[str, str]:
        """Every old hook name still accepted, by full path: `{old: current}`."""
        # by the names hook_points gives (a wrapper may present its inner model's names)
        named = {id(point): name for name, point in self.hook_points().items()}
        aliases: dict[str, str] = {}
        for module in self.modules():
            for old, new in getattr(module, "HOOK_ALIASES", {}).items():
                current = named.get(id(getattr(module, new, None)))
                if current is not None:
                    aliases[current.removesuffix(new) + old] = current
        return aliases

    def add_hook(self, name: str | Callable[[str], bool], fn: HookFn) -> None:
        """Attach `fn` to the named hook point(s) until `reset_hooks` (TransformerLens' `add_hook`)."""
        points = self.hook_points()
        for _, current in _select(points, name, self.hook_aliases()):
            points[current].add_hook(fn)

    def reset_hooks(self) -> None:
        """Remove every hook attached through `add_hook` on any of this model's hook points."""
        for point in self.hook_points().values():
            point.remove_hooks()

    def run_with_hooks(
        self, *args: Any, fwd_hooks: Iterable[tuple[str | Callable[[str], bool], HookFn]] = (), **kwargs: Any
    ) -> Any:
        """One forward pass with `(name or predicate, fn)` hooks attached; none stays attached."""
        with self.hooks(fwd_hooks):
            return self(*args, **kwargs)

    @contextlib.contextmanager
    def hooks(
        self, fwd_hooks: Iterable[tuple[str | Callable[[str], bool], HookFn]]
    ) -> Iterator[HookedModule]:
        """Attach `(name or predicate, fn)` pairs for the block; nothing stays attached after."""
        points, aliases = self.hook_points(), self.hook_aliases()
        handles = []
        try:
            for selector, fn in fwd_hooks:
                for _, current in _select(points, selector, aliases):
                    handles.append(points[current].add_hook(fn))
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def run_with_cache(
        self, *args: Any, names_filter: NamesFilter = None, **kwargs: Any
    ) -> tuple[Any, dict[str, torch.Tensor]]:
        """Run forward and return `(output, cache)` with the selected activations, keyed by the
        names asked for (an old name asked for is the key of its renamed hook's activation)."""
        points = self.hook_points()
        selected = _select(
            points, names_filter if names_filter is not None else list(points), self.hook_aliases()
        )
        keys: dict[str, list[str]] = {}
        for asked, current in selected:
            keys.setdefault(current, []).append(asked)
        cache: dict[str, torch.Tensor] = {}

        def saver(current: str) -> HookFn:
            # keyed by the name this model knows the point by: a point inside a model that is
            # itself part of another hooked model carries that outer model's name in `hook.name`
            def save(activation: torch.Tensor, hook: HookPoint) -> None:
                for key in keys[current]:
                    cache[key] = activation.detach()

            return save

        with self.hooks([(name, saver(name)) for name in keys]):
            output = self(*args, **kwargs)
        return output, cache


def _select(points: dict[str, HookPoint], selector: Any, aliases: dict[str, str]) -> list[tuple[str, str]]:
    """`(name asked for, current name)` pairs; a predicate sees current names only."""
    if callable(selector):
        return [(name, name) for name in points if selector(name)]
    names = [selector] if isinstance(selector, str) else list(selector)
    pairs = [(name, aliases.get(name, name)) for name in names]
    unknown = [asked for asked, current in pairs if current not in points]
    if unknown:
        raise MesalabError(f"unknown hook point {unknown[0]!r} (allowed: {', '.join(points)})")
    return pairs


def attached_hook_count(model: nn.Module) -> int:
    """Forward hooks attached anywhere in `model`: 0 after every scoped intervention."""
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules()
    )
