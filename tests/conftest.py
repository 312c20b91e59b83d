"""Shared test setup: torch on one thread (the suite's budget assumes it), and how the suite
is shared between pytest-xdist workers (`make unit` runs `pytest -n 2`).

Each test file is one group, so a module's fixtures (a quick run, a zoo table) are computed
once, in one worker. Files that start Ray (a local cluster, a `ray start --head`, a sweep)
form one group together: two Ray clusters starting at once on a 2-core machine compete
for ports, the `ray_current_cluster` record and start-up time.
"""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("MESALAB_THREADS", "1")
torch.set_num_threads(1)

RAY_FILES = frozenset(
    {
        "test_claims.py",
        "test_emergence_icl.py",
        "test_emergence_red_door.py",
        "test_sweep.py",
        "test_sweep_cli.py",
        "test_sweep_ray_cluster.py",
        "test_tune.py",
    }
)
"""Test files that start Ray; they run one after another in one worker."""


try:  # pytest-xdist's loadgroup cannot rename pytest 9.2's node ids, so the grouping is ours
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # without xdist the suite runs in one process
    pass
else:

    class FileOrRayScheduling(LoadScopeScheduling):
        """xdist's scope scheduling with a scope per test file, and one for all of `RAY_FILES`."""

        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "ray" if path.rsplit("/", 1)[-1] in RAY_FILES else path

    def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> FileOrRayScheduling:
        return FileOrRayScheduling(config, log)
