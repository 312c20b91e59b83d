"""Models on disk: `NAME.safetensors` (the weights) beside `NAME.json` (what to build).

The JSON names the model kind (a registry ID), its config, the package version and
extra metadata; loading builds the kind from its config and loads the weights strictly.
Nothing is ever unpickled: anything that is not this pair is refused with a clear error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import nn

from mesalab import __version__
from mesalab.config import Config
from mesalab.errors import MesalabError, UnknownNameError
from mesalab.registry import Registry
from mesalab.store.runs import write_json_atomic

ModelKind = tuple[type[Config], Callable[[Any], nn.Module]]
MODEL_KINDS: Registry[ModelKind] = Registry("model kind")
FORMAT = "mesalab-model/1"


def register_model_kind(name: str, config_cls: type[Config], build: Callable[[Any], nn.Module]) -> None:
    """Make `load_model` able to rebuild models of kind `name` from their config."""
    MODEL_KINDS.register(name, (config_cls, build))


def save_model(
    model: nn.Module, path: Path | str, kind: str, config: Config, meta: dict | None = None
) -> Path:
    """Write `path.safetensors` and `path.json`; returns the safetensors path."""
    stem = _stem(Path(path))
    stem.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    weights = stem.with_suffix(".safetensors")
    tmp = weights.with_name(weights.name + ".tmp")
    safetensors.torch.save_file(tensors, str(tmp), metadata={"format": FORMAT, "kind": kind})
    tmp.replace(weights)
    write_json_atomic(
        stem.with_suffix(".json"),
        {
            "format": FORMAT,
            "kind": kind,
            "config": config.to_dict(),
            "mesalab_version": __version__,
            **(meta or {}),
        },
    )
    return weights


def read_model_meta(path: Path | str) -> dict[str, Any]:
    """The JSON beside a model, checked for the fields loading needs."""
    stem = _stem(Path(path))
    meta_path = stem.with_suffix(".json")
    if not meta_path.exists():
        raise MesalabError(f"{meta_path}: model config missing (a model is NAME.safetensors + NAME.json)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MesalabError(f"{meta_path}: not valid JSON ({exc.msg})") from None
    if (
        not isinstance(meta, dict)
        or meta.get("format") != FORMAT
        or "kind" not in meta
        or "config" not in meta
    ):
        raise MesalabError(f"{meta_path}: not a mesalab model config (needs format {FORMAT!r}, kind, config)")
    return meta


def load_model(path: Path | str, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a saved model; returns `(model in eval mode, its JSON metadata)`."""
    stem = _stem(Path(path))
    weights = stem.with_suffix(".safetensors")
    if not weights.exists():
        raise MesalabError(f"{weights}: no such model file")
    meta = read_model_meta(stem)
    _register_builtin_kinds()
    try:
        config_cls, build = MODEL_KINDS.get(meta["kind"])
    except UnknownNameError as exc:
        raise MesalabError(f"{stem.with_suffix('.json')}: {exc}") from None
    config = config_cls.from_dict(meta["config"])
    model = build(config)
    try:
        tensors = safetensors.torch.load_file(str(weights), device=str(device))
    except (safetensors.SafetensorError, OSError, ValueError) as exc:
        raise MesalabError(f"{weights}: not a readable safetensors file ({exc})") from None
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise MesalabError(
            f"{weights}: weights do not fit a {meta['kind']} of this config ({first})"
        ) from None
    return model.to(device).eval(), meta


def _register_builtin_kinds() -> None:
    """Import the modules that register mesalab's own model kinds (they import this module)."""
    import mesalab.models.lsa
    import mesalab.models.policy
    import mesalab.models.recurrent
    import mesalab.models.softmax_transformer  # noqa: F401


def _stem(path: Path) -> Path:
    return path.with_suffix("") if path.suffix in {".safetensors", ".json"} else path
