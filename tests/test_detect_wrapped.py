"""Hooks, not classes (issue 12): a zoo model wrapped in a plain `nn.Module` of another class,
with the same hooks and call signature, gets the same verdict from every diagnostic."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from torch import nn

from mesalab.detect import aggregate, from_entry, run_diagnostics
from mesalab.hooks import HookedModule
from mesalab.zoo import get_entry


class Wrapper(nn.Module):
    """Not a class of the project's: holds the model and forwards every call to it."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        for name in ("compute_argument", "default_compute"):
            if hasattr(inner, name):
                setattr(self, name, getattr(inner, name))

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.inner(*args, **kwargs)


@pytest.mark.parametrize("name", ["value-iteration", "gradient-descent", "best-of-k", "best-of-n-replay"])
def test_a_wrapped_model_gets_the_same_verdicts(name: str) -> None:
    entry = get_entry(name)
    wrapped = dataclasses.replace(entry, build=lambda: Wrapper(entry.build()))
    model = wrapped.build()
    assert not isinstance(model, HookedModule) and type(model).__module__ == __name__
    plain = run_diagnostics(from_entry(entry), 0)
    other = run_diagnostics(from_entry(wrapped), 0)
    assert [(e.diagnostic, e.verdict) for e in other] == [(e.diagnostic, e.verdict) for e in plain]
    assert aggregate(other).verdict == aggregate(plain).verdict == entry.truth
