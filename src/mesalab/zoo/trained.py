"""Trained models join the zoo as unknowns: every saved model in the run folders under a root.

A model is `NAME.safetensors` + `NAME.json` (`mesalab.models.io`) anywhere inside a run
folder (`mesalab.store.runs.list_runs`), training checkpoints excepted. Gridworld policies
(`actor-critic`, symbolic observations) keep their call signature; in-context regressors
(`lsa`, `softmax-transformer`, which read tokens) are wrapped as `(x, y, x_query) -> (B,)`;
maze nets with a policy view (`recurrent`) join as gridworld policies through that view.
A file that cannot be loaded, or a model of no zoo domain, is skipped with a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mesalab.envs.gridworld.distributions import DISTRIBUTIONS
from mesalab.envs.icl.sampler import tokens
from mesalab.errors import MesalabError
from mesalab.hooks import HookedModule, HookPoint
from mesalab.models.io import load_model
from mesalab.models.kinds import POLICY_VIEWS
from mesalab.store.runs import list_runs
from mesalab.zoo.entry import ZooEntry
from mesalab.zoo.references import gridworld_reference, icl_reference

ICL_KINDS = ("lsa", "softmax-transformer")
"""Saved model kinds that read in-context regression tokens."""


class TokenModel(HookedModule):
    """A token model `(B, N + 1, d + 1) -> (B,)` called as `(x, y, x_query) -> (B,)`.

    Its hook points are the wrapped model's, under the same names (`blocks.0.hook_resid_post`).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def hook_points(self) -> dict[str, HookPoint]:
        inner = self.model
        return inner.hook_points() if isinstance(inner, HookedModule) else {}

    def forward(self, x: torch.Tensor, y: torch.Tensor, x_query: torch.Tensor) -> torch.Tensor:
        return self.model(tokens(x, y, x_query))


def trained_entries(root: Path) -> list[ZooEntry]:
    """An `unknown` entry for every loadable saved model in the run folders under `root`."""
    if not root.is_dir():
        raise MesalabError(f"{root}: no such folder of runs (see `mesalab runs --root`)")
    runs = [r.path for r in list_runs(root)]
    owner: dict[Path, Path] = {}  # model stem -> its innermost run folder
    for run in runs:
        for weights in sorted(run.rglob("*.safetensors")):
            if "checkpoints" in weights.relative_to(run).parts:
                continue  # training state, not a finished model
            stem = weights.with_suffix("")
            if stem not in owner or len(run.parts) > len(owner[stem].parts):
                owner[stem] = run
    entries = []
    for stem, run in sorted(owner.items()):
        entry = _entry(stem, run)
        if entry is not None:
            entries.append(entry)
    return entries


def _entry(stem: Path, run: Path) -> ZooEntry | None:
    try:
        model, meta = load_model(stem)
    except MesalabError as exc:
        warnings.warn(f"zoo: skipping a saved model: {exc}", stacklevel=3)
        return None
    kind, config = meta["kind"], meta.get("config", {})
    name = f"trained/{run.name}/{stem.relative_to(run).as_posix()}"
    loader = _loader(stem, kind)
    if kind == "actor-critic" and config.get("obs_mode", "symbolic") == "symbolic":
        world = str(meta.get("trained_on", "red-door/train"))
        size = int(config.get("size", 11))
        reference_world = world if world in DISTRIBUTIONS else "red-door/train"
        if DISTRIBUTIONS[reference_world].size != size:
            warnings.warn(f"zoo: skipping {stem}: built for {size}x{size} mazes", stacklevel=3)
            return None
        return ZooEntry(
            name,
            "gridworld",
            "unknown",
            None,
            loader,
            f"A {config.get('arch', '?')} policy trained by {meta.get('base_optimizer', 'its run')} "
            f"on {world} ({run.name}); whether it optimizes is what the diagnostics are for.",
            reference_inputs=lambda: gridworld_reference(reference_world),
            world=world,
            source=str(stem.with_suffix(".safetensors")),
        )
    if kind in POLICY_VIEWS:  # a maze net acting at the agent's cell (recurrent): any maze size
        world = str(meta.get("trained_on", "red-door/train"))
        world = world if world in DISTRIBUTIONS else "red-door/train"
        return ZooEntry(
            name,
            "gridworld",
            "unknown",
            None,
            _view_loader(stem, kind, DISTRIBUTIONS[world].size),
            f"A {kind} model trained by {meta.get('base_optimizer', 'its run')} on {world} ({run.name}), "
            "acting at the agent's cell; whether it searches is what the diagnostics are for.",
            reference_inputs=lambda: gridworld_reference(world),
            world=world,
            source=str(stem.with_suffix(".safetensors")),
        )
    if kind in ICL_KINDS:
        dim = int(config.get("token_dim", 11)) - 1
        task = meta.get("task", {})
        return ZooEntry(
            name,
            "icl",
            "unknown",
            None,
            loader,
            f"A {kind} trained on in-context regression (d = {dim}) in {run.name}.",
            reference_inputs=lambda: _icl_reference(dim, task),
            source=str(stem.with_suffix(".safetensors")),
        )
    del model
    warnings.warn(f"zoo: skipping {stem}: a {kind} model fits no zoo domain", stacklevel=3)
    return None


def _loader(stem: Path, kind: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        model, _ = load_model(stem)
        return TokenModel(model) if kind in ICL_KINDS else model

    return build


def _view_loader(stem: Path, kind: str, size: int) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        model, _ = load_model(stem)
        return POLICY_VIEWS.get(kind)(model, size)

    return build


def _icl_reference(dim: int, task: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The `icl/train` reference set, or one of the model's own task when its dimension differs."""
    if dim == 10:
        return icl_reference()
    from mesalab.envs.icl.sampler import sample_seeded
    from mesalab.envs.icl.spec import TaskSpec

    spec = TaskSpec.from_dict(task) if task else TaskSpec(dim=dim)
    batch = sample_seeded(spec, 64, 0, "zoo", "reference", "trained", dim)
    return batch.x, batch.y, batch.x_query
