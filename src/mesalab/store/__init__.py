"""Run folders (the source of truth) and the results index built from them."""

from mesalab.store.runs import (
    RunRecord,
    create_run_dir,
    find_run,
    list_runs,
    read_json,
    write_json_atomic,
    write_text_atomic,
)
from mesalab.store.metrics import MetricsLogger

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
