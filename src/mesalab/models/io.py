"""Models on disk: `NAME.safetensors` (the weights) beside `NAME.json` (what to build).

The JSON names the model kind (a registry ID, `mesalab.models.kinds`), its config, the package version and
extra metadata; loading builds the kind from its config and loads the weights strictly.
Nothing is ever unpickled: anything that is not this pair is refused with a clear error.

The safetensors metadata repeats `format`, `kind` and the config (a canonical JSON
string, keys sorted) so that the weights file alone says what it holds, and its header is
written in a fixed order, so saving the same model twice gives the same bytes. The JSON
stays authoritative: loading refuses a pair whose two copies disagree. Files saved before
the metadata held the config load as before.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import nn

from mesalab import __version__
from mesalab.config import Config
from mesalab.errors import MesalabError, UnknownNameError
from mesalab.limits import check_bytes
from mesalab.models.kinds import MODEL_KINDS
from mesalab.store.runs import write_bytes_atomic, write_json_atomic

FORMAT = "mesalab-model/1"


def save_model(
    model: nn.Module, path: Path | str, kind: str, config: Config, meta: dict | None = None
) -> Path:
    """Write `path.json`, then `path.safetensors` (its presence marks the pair complete);
    returns the safetensors path."""
    stem = _stem(Path(path))
    stem.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    weights = stem.with_suffix(".safetensors")
    metadata = {"format": FORMAT, "kind": kind, "config": canonical_json(config.to_dict())}
    sidecar = {"format": FORMAT, "kind": kind, "config": config.to_dict(), "mesalab_version": __version__}
    # the sidecar first, the weights last (each atomically): a model's weights file exists only
    # beside its sidecar, so a run killed between the two sees no model and trains it again
    write_json_atomic(stem.with_suffix(".json"), {**sidecar, **(meta or {})})
    write_bytes_atomic(weights, _sorted_header(safetensors.torch.save(tensors, metadata=metadata)))
    return weights


def read_model_meta(path: Path | str) -> dict[str, Any]:
    """The JSON beside a model, checked for the fields loading needs."""
    stem = _stem(Path(path))
    meta_path = stem.with_suffix(".json")
    if not meta_path.exists():
        raise MesalabError(f"{meta_path}: model config missing (a model is NAME.safetensors + NAME.json)")
    if not meta_path.is_file():
        raise MesalabError(f"{meta_path}: is not a file (a model is NAME.safetensors + NAME.json)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MesalabError(f"{meta_path}: not valid JSON ({getattr(exc, 'msg', exc)})") from None
    except RecursionError:
        raise MesalabError(f"{meta_path}: not valid JSON (nested too deep)") from None
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
    if not weights.is_file():
        raise MesalabError(f"{weights}: is not a file (a model is NAME.safetensors + NAME.json)")
    meta = read_model_meta(stem)
    _register_builtin_kinds()
    try:
        config_cls, build = MODEL_KINDS.get(meta["kind"])
    except UnknownNameError as exc:
        raise MesalabError(f"{stem.with_suffix('.json')}: {exc}") from None
    _check_complete(stem.with_suffix(".json"), config_cls, meta["config"])
    config = config_cls.from_dict(meta["config"])
    _check_copies_agree(weights, meta)
    _check_tensors(weights, meta["kind"], build, config)  # names, shapes, dtypes, size: before any allocation
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


def _check_complete(meta_path: Path, config_cls: type[Config], config: Any) -> None:
    """Refuse a sidecar whose config leaves out a field its kind needs: no default is filled in."""
    if not isinstance(config, dict):
        raise MesalabError(f"{meta_path}: config must be a mapping, got {type(config).__name__}")
    missing = [f.name for f in dataclasses.fields(config_cls) if f.name not in config]
    if missing:
        raise MesalabError(
            f"{meta_path}: config lacks {', '.join(missing)} (a saved model names every field)"
        )


_DTYPES = {
    torch.float32: "F32",
    torch.float64: "F64",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
"""torch dtypes as the safetensors header spells them."""


def _check_tensors(weights: Path, kind: str, build: Any, config: Config) -> None:
    """The model `config` describes, built on the meta device (no memory): its size within the
    budget, and the file's tensors the same in name, shape and dtype (no silent cast)."""
    with torch.device("meta"):
        probe = build(config)
    expected = probe.state_dict()
    nbytes = sum(t.numel() * t.element_size() for t in [*probe.parameters(), *probe.buffers()])
    check_bytes(nbytes, "config", f"a {kind} of this config")
    try:
        with safetensors.safe_open(str(weights), framework="pt") as handle:
            found = {
                k: (handle.get_slice(k).get_shape(), handle.get_slice(k).get_dtype())
                for k in handle.keys()  # noqa: SIM118 (a safe_open handle is no dict)
            }
    except (safetensors.SafetensorError, OSError, ValueError) as exc:
        raise MesalabError(f"{weights}: not a readable safetensors file ({exc})") from None
    missing, extra = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or extra:
        listed = "; ".join(p for p in (_few("missing", missing), _few("unexpected", extra)) if p)
        model = f"{_article(kind)} {kind}"
        raise MesalabError(f"{weights}: tensors do not match {model} of this config ({listed})")
    for name, tensor in expected.items():
        shape, dtype = found[name]
        want = _DTYPES.get(tensor.dtype, str(tensor.dtype))
        if list(shape) != list(tensor.shape) or dtype != want:
            raise MesalabError(
                f"{weights}: tensor {name} is {dtype} {list(shape)}, a {kind} of this config "
                f"needs {want} {list(tensor.shape)} (no cast is made)"
            )


def _few(label: str, names: list[str]) -> str:
    if not names:
        return ""
    return f"{label}: {', '.join(names[:4])}" + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def canonical_json(value: Any) -> str:
    """One spelling per value: keys sorted, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sorted_header(raw: bytes) -> bytes:
    """The safetensors file `raw` with its `__metadata__` entries sorted and first.

    safetensors writes the metadata from a hash map, in an order that changes from one
    process to the next; the tensors' entries and the data are already in a fixed order.
    """
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])
    ordered = {"__metadata__": dict(sorted(header.pop("__metadata__", {}).items())), **header}
    text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the format pads the header to 8 bytes with spaces
    return len(text).to_bytes(8, "little") + text + raw[8 + size :]


def _check_copies_agree(weights: Path, meta: dict[str, Any]) -> None:
    """Refuse weights whose metadata names another kind or config than the JSON beside them."""
    try:
        with safetensors.safe_open(str(weights), framework="pt") as handle:
            inner = handle.metadata() or {}
    except (safetensors.SafetensorError, OSError, ValueError) as exc:
        raise MesalabError(f"{weights}: not a readable safetensors file ({exc})") from None
    if "config" not in inner:  # saved before the weights carried the config
        return
    try:
        config = json.loads(inner["config"])
    except json.JSONDecodeError:
        raise MesalabError(f"{weights}: the config in its metadata is not valid JSON") from None
    json_path = weights.with_suffix(".json")
    if inner.get("kind", meta["kind"]) != meta["kind"]:
        raise MesalabError(
            f"{weights}: holds kind {inner['kind']} but {json_path.name} says {meta['kind']}; "
            "the pair does not belong together"
        )
    if config != meta["config"]:
        keys = set(config) | set(meta["config"])
        differ = sorted(k for k in keys if config.get(k) != meta["config"].get(k))
        raise MesalabError(
            f"{weights}: its config differs from {json_path.name} in {', '.join(differ)}; "
            "the pair does not belong together"
        )


def _register_builtin_kinds() -> None:
    """Import the modules that register mesalab's own model kinds into `MODEL_KINDS`."""
    import mesalab.models.lsa
    import mesalab.models.policy
    import mesalab.models.recurrent
    import mesalab.models.softmax_transformer  # noqa: F401


def _stem(path: Path) -> Path:
    if path.name in ("", ".", ".."):
        raise MesalabError(f"{str(path)!r}: not a model path (allowed: NAME, NAME.safetensors or NAME.json)")
    return path.with_suffix("") if path.suffix in {".safetensors", ".json"} else path


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"
