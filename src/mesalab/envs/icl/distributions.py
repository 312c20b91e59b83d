"""Named distributions of the one task spec, registered as `icl/...`.

Each differs from `icl/train` only in the fields it names; `shifted(base, name)` applies
that same difference to any base spec, so a run with `dim=5` shifts in the same way.
"""

from __future__ import annotations

from typing import Any

from mesalab.envs.icl.spec import TaskSpec
from mesalab.registry import Registry

TASKS: Registry[TaskSpec] = Registry("icl distribution")
DESCRIPTIONS: dict[str, str] = {}
NAMED_CHANGES: dict[str, dict[str, Any]] = {}
"""For each distribution, the fields it declares it changes relative to `icl/train`."""


def register_task(name: str, description: str, version: int = 0, **fields: Any) -> TaskSpec:
    """Register `icl/train` with `fields` changed under `name`."""
    spec = TRAIN.replace(**fields) if fields else TRAIN
    TASKS.register(name, spec, version)
    DESCRIPTIONS[name] = description
    NAMED_CHANGES[name] = dict(fields)
    return spec


TRAIN = TaskSpec()
register_task("icl/train", "training: d=10, N=10, x uniform in [-1, 1], w ~ N(0, I), no noise")
register_task("icl/x-scale-2", "inputs twice as large: x uniform in [-2, 2]", x_scale=2.0)
register_task("icl/x-scale-0.5", "inputs half as large: x uniform in [-0.5, 0.5]", x_scale=0.5)
register_task("icl/long-context", "twice the context: N=20 pairs", n_context=20)
register_task("icl/short-context", "half the context: N=5 pairs, fewer than d", n_context=5)
register_task("icl/noisy", "noisy targets: y = w.x + 0.5 eps", noise=0.5)
register_task("icl/w-scale-2", "weights twice as large: w ~ N(0, 4 I)", w_scale=2.0)
register_task("icl/gaussian-x", "inputs Gaussian N(0, I) instead of uniform", x_dist="gaussian")


def get_task(name: str) -> TaskSpec:
    """The spec registered under `name` (raises `UnknownNameError` listing the names)."""
    return TASKS.get(name)


def changes(name: str) -> dict[str, Any]:
    """The fields in which `name` differs from `icl/train`, with their new values."""
    return {field: new for field, _, new in TRAIN.diff(get_task(name))}


def shifted(base: TaskSpec, name: str) -> TaskSpec:
    """`base` with the fields `name` changes relative to `icl/train` set as `name` sets them."""
    return base.replace(**changes(name))
