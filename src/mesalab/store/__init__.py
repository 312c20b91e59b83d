"""Run folders (the source of truth) and the results index built from them."""

from mesalab.store.metrics import MetricsLogger
from mesalab.store.runs import (
    RunRecord,
    create_run_dir,
    find_run,
    list_runs,
    read_json,
    write_json_atomic,
    write_text_atomic,
)

__all__ = [
    "MetricsLogger",
    "RunRecord",
    "create_run_dir",
    "find_run",
    "list_runs",
    "read_json",
    "write_json_atomic",
    "write_text_atomic",
]
