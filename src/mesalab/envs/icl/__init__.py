"""In-context linear regression: sequences of (x_i, y_i) pairs and a query, batched and seeded.

See `spec.TaskSpec` for the task family and `distributions` for the named train and
shifted distributions. The estimators that solve the task live with the models
(`mesalab.models.reference`), the metrics that line a model up against one in
`mesalab.detect.icl_compare`.
"""

from mesalab.envs.icl.distributions import DESCRIPTIONS, TASKS, changes, get_task, shifted
from mesalab.envs.icl.sampler import Batch, sample, sample_seeded, task_pool, tokens
from mesalab.envs.icl.spec import X_DISTS, TaskSpec

__all__ = [
    "DESCRIPTIONS",
    "TASKS",
    "X_DISTS",
    "Batch",
    "TaskSpec",
    "changes",
    "get_task",
    "sample",
    "sample_seeded",
    "shifted",
    "task_pool",
    "tokens",
]
