"""The model kinds: each saved model names its kind, and the kind says how to rebuild it.

A model module registers its kind here when it is imported (`register_model_kind("lsa",
LSAConfig, build)`); `mesalab.models.io` looks kinds up to load a saved model and imports
mesalab's own model modules first, so this module imports no model and no model imports
`io` to register.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from mesalab.config import Config
from mesalab.registry import Registry

ModelKind = tuple[type[Config], Callable[[Any], nn.Module]]
"""A kind's config class and the function that builds a model from a config."""
MODEL_KINDS: Registry[ModelKind] = Registry("model kind")
"""Every registered model kind by name (`actor-critic`, `lsa`, `softmax-transformer`, ...)."""


def register_model_kind(name: str, config_cls: type[Config], build: Callable[[Any], nn.Module]) -> None:
    """Make `load_model` able to rebuild models of kind `name` from their config."""
    MODEL_KINDS.register(name, (config_cls, build))


PolicyView = Callable[[nn.Module, int], nn.Module]
"""`(saved model, maze side) -> gridworld policy (B, 8, H, W) -> (B, 4)`, for a kind that is no policy."""
POLICY_VIEWS: Registry[PolicyView] = Registry("policy view")
"""Kinds whose saved models act in the gridworld through a view (a recurrent maze net at the agent's cell)."""


def register_policy_view(name: str, view: PolicyView) -> None:
    """Let the diagnostics and the zoo run saved models of kind `name` as gridworld policies."""
    POLICY_VIEWS.register(name, view)
