"""Learned algorithms: policies, sequence models, and hand-built references."""

from mesalab.models.io import load_model, save_model
from mesalab.models.kinds import MODEL_KINDS, register_model_kind

__all__ = ["MODEL_KINDS", "load_model", "register_model_kind", "save_model"]
