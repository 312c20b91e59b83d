"""Learned algorithms: policies, sequence models, and hand-built references."""

from mesalab.models.io import MODEL_KINDS, load_model, register_model_kind, save_model

__all__ = ["MODEL_KINDS", "load_model", "register_model_kind", "save_model"]
