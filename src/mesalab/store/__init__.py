"""Run folders (the source of truth) and the results index built from them."""

from mesalab.store.metrics import MetricsLogger
from mesalab.store.runs import (
    SCHEMA_VERSION,
    RunRecord,
    check_schema,
    create_run_dir,
    find_run,
    finite,
    list_runs,
    open_run,
    read_json,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)

__all__ = [
    "SCHEMA_VERSION",
    "MetricsLogger",
    "RunRecord",
    "check_schema",
    "create_run_dir",
    "find_run",
    "finite",
    "list_runs",
    "open_run",
    "read_json",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]
