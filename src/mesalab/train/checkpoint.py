"""Training checkpoints as safetensors + JSON: weights, optimizer, world and RNG state.

Everything a run needs to continue bit for bit is a tensor or a JSON scalar, so a
checkpoint never needs pickle: `save_checkpoint` flattens the optimizer state dict into
named tensors and its param groups into JSON; `load_checkpoint` reverses that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import nn

from mesalab.envs.gridworld.state import GridState
from mesalab.envs.gridworld.world import GridWorld
from mesalab.errors import MesalabError
from mesalab.store.runs import write_bytes_atomic, write_json_atomic

_STATE_FIELDS = ("walls", "agent", "start", "targets", "colours", "start_dist", "steps")


def save_checkpoint(
    folder: Path,
    policy: nn.Module,
    optimizer: torch.optim.Optimizer,
    world: GridWorld,
    generator: torch.Generator,
    counters: dict[str, Any],
) -> None:
    """Write `folder/checkpoint.safetensors` (tensors and counters, atomically) and a readable
    copy of the counters in `folder/checkpoint.json`."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {f"policy.{k}": v for k, v in policy.state_dict().items()}
    optim_state = optimizer.state_dict()
    for index, entry in optim_state["state"].items():
        for key, value in entry.items():
            tensors[f"optim.{index}.{key}"] = torch.as_tensor(value)
    for name in _STATE_FIELDS:
        tensors[f"world.{name}"] = getattr(world.state, name)
    tensors["world.episode"] = world.episode
    tensors["rng"] = generator.get_state()
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    record = {"param_groups": optim_state["param_groups"], **counters}
    # the counters ride in the weights file's own metadata: one file, renamed into place, so a
    # kill leaves the old checkpoint or the new one, never new weights beside old counters
    metadata = {"checkpoint": json.dumps(record, sort_keys=True)}
    write_bytes_atomic(folder / "checkpoint.safetensors", safetensors.torch.save(tensors, metadata=metadata))
    write_json_atomic(folder / "checkpoint.json", record)  # for people; loading reads the metadata


def load_checkpoint(
    folder: Path,
    policy: nn.Module,
    optimizer: torch.optim.Optimizer,
    world: GridWorld,
    generator: torch.Generator,
) -> dict[str, Any]:
    """Restore everything `save_checkpoint` wrote; returns the counters."""
    meta_path, weights = folder / "checkpoint.json", folder / "checkpoint.safetensors"
    if not weights.is_file():
        raise MesalabError(f"{folder}: no complete checkpoint to resume from")
    try:
        with safetensors.safe_open(str(weights), framework="pt") as handle:
            inner = (handle.metadata() or {}).get("checkpoint")
        if inner is None and not meta_path.exists():  # written before the counters moved inside
            raise MesalabError(f"{folder}: no complete checkpoint to resume from")
        meta = json.loads(inner if inner is not None else meta_path.read_text(encoding="utf-8"))
        tensors = safetensors.torch.load_file(str(weights))
    except (json.JSONDecodeError, safetensors.SafetensorError, OSError) as exc:
        raise MesalabError(
            f"{folder}: checkpoint unreadable ({type(exc).__name__}: {exc}); delete it to restart"
        ) from None
    device = world.device
    policy.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("policy.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value.to(device) if name != "step" else value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    restored = {name: tensors[f"world.{name}"].to(device) for name in _STATE_FIELDS}
    world.episode.copy_(tensors["world.episode"].to(device))
    # observations and pays-table are functions of the state: set_state rebuilds them
    world.set_state(GridState(size=world.spec.size, **restored))
    generator.set_state(tensors["rng"])
    return {k: v for k, v in meta.items() if k != "param_groups"}
