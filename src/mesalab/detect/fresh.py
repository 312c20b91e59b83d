"""Fresh inputs: draws from the subject's task at full spread, never near its reference set.

Every diagnostic that claims something off the reference set tests it here (issue 12): a
table that is right to first order around its stored inputs is right in a 1% neighbourhood
of them, and wrong on a fresh draw.

- gridworld: start observations of held-out mazes of the subject's world;
- icl: fresh sequences of the subject's task (its saved `task` where it has one, else
  `x ~ U[-1, 1]^d`, `w ~ N(0, I)` at the reference set's d and N), and, shifted, the same
  task with twice the context;
- choice: contexts drawn with the reference set's mean and spread.
"""

from __future__ import annotations

from typing import Any

import torch

import mesalab.detect.gridworld as gw
from mesalab.detect.subject import Subject
from mesalab.errors import MesalabError
from mesalab.seeding import generator


def icl_task(subject: Subject) -> Any:
    """The subject's in-context task: its saved `TaskSpec`, else the default at its d and N."""
    from mesalab.envs.icl.spec import TaskSpec

    x = subject.reference_inputs[0]
    if isinstance(subject.meta.get("task"), dict):
        return TaskSpec.from_dict(subject.meta["task"])
    return TaskSpec(dim=int(x.shape[-1]), n_context=int(x.shape[1]))


def icl_sets(subject: Subject, count: int, seed: int, *path: str) -> dict[str, Any]:
    """Label -> fresh `Batch` of the task and of the task with twice the context."""
    from mesalab.envs.icl.sampler import sample_seeded

    task = icl_task(subject)
    tasks = {"fresh sequences": task, "twice the context": task.replace(n_context=2 * task.n_context)}
    return {label: sample_seeded(spec, count, seed, "detect", *path, label) for label, spec in tasks.items()}


def icl_outputs(subject: Subject, batch: Any) -> torch.Tensor | None:
    """The subject's predictions on `batch`, or None for a model built for another context length."""
    try:
        return subject.outputs((batch.x, batch.y, batch.x_query))
    except MesalabError:
        return None


def inputs(subject: Subject, count: int, seed: int, *path: str) -> Any:
    """`count` fresh inputs in the subject's calling convention (icl: the unshifted task)."""
    if subject.domain == "gridworld":
        assert subject.world is not None
        return gw.start_observations(subject.world, count, seed)
    if subject.domain == "icl":
        batch = icl_sets(subject, count, seed, *path)["fresh sequences"]
        return batch.x, batch.y, batch.x_query
    z = subject.reference_inputs
    gen = generator(seed, "detect", "fresh", *path)
    return z.mean(0) + torch.randn(count, z.shape[1], generator=gen) * z.std(0)
