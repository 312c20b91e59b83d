"""The results index: one table row per run folder, rebuilt from the folders every time.

The run folders are the source of truth; nothing here is cached. `runs_index(root)` has
a row per run folder under `root` (sweep trials included) with its status (`done`,
`failed`, `unfinished`), its sweep and trial id when it has one, its config fields
(dotted keys: `ppo.learning_rate`) and, for sweep trials, its flat results. `where`
filters rows by `key=value`; `write_table` exports CSV or Parquet by file suffix.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mesalab.errors import MesalabError
from mesalab.store import check_schema, list_runs
from mesalab.sweep.records import SWEEP_FILE, load_trial, merge_results, require_pandas, trials_table

if TYPE_CHECKING:
    import pandas as pd

LEADING = ("run", "experiment", "status", "created", "sweep", "trial_id", "seed_index")
"""Columns every index row has, first."""


def sweep_table(sweep_dir: Path) -> pd.DataFrame:
    """A sweep's trials table, read from its trial folders (in the sweep's trial order)."""
    spec = _read(sweep_dir / SWEEP_FILE)
    trial_ids = [t for t in spec.get("trials", []) if (sweep_dir / t).is_dir()]
    return trials_table(load_trial(sweep_dir / t) for t in trial_ids)


def runs_index(root: Path) -> pd.DataFrame:
    """Every run folder under `root` as one row (see the module docstring)."""
    rows = []
    for record in list_runs(root):
        folder = record.path
        row: dict[str, Any] = {"run": record.name, "experiment": record.experiment}
        row["status"] = _status(folder)
        row["created"] = record.created
        trial = _read(folder / "trial.json")
        row["sweep"] = trial.get("sweep", "")
        row["trial_id"] = trial.get("trial_id", "")
        row["seed_index"] = trial.get("seed_index")
        config = _read(folder / "config.json").get("config", {})
        row.update(flatten(config))
        if trial:  # a sweep trial: its results are flat by contract
            merge_results(row, _read(folder / "results.json").get("results") or {})
        row["path"] = str(folder)
        rows.append(row)
    frame = require_pandas().DataFrame(rows)
    return frame if rows else require_pandas().DataFrame(columns=[*LEADING, "path"])


def where(frame: pd.DataFrame, conditions: Iterable[str]) -> pd.DataFrame:
    """Rows whose column `key` equals `value` for every `key=value` (numbers compared as numbers)."""
    for condition in conditions:
        key, sep, text = condition.partition("=")
        key = key.strip()
        if not sep or not key:
            raise MesalabError(f"--where {condition!r}: expected KEY=VALUE")
        if key not in frame.columns:
            known = ", ".join(c for c in frame.columns if c != "path")
            raise MesalabError(f"--where {key!r}: no such column (columns: {known or 'none, no runs'})")
        mask = [matches(cell, text.strip()) for cell in frame[key]]
        frame = frame[mask]
    return frame


def matches(cell: Any, text: str) -> bool:
    """Whether a table cell equals the text a user typed."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return text.lower() in ("", "none", "null", "nan")
    if isinstance(cell, bool):
        return text.lower() in (("true", "1") if cell else ("false", "0"))
    if isinstance(cell, int | float):
        try:
            return math.isclose(float(cell), float(text), rel_tol=1e-9, abs_tol=0.0)
        except ValueError:
            return False
    if isinstance(cell, list | tuple):
        try:
            return list(cell) == json.loads(text)
        except json.JSONDecodeError:
            return "+".join(map(str, cell)) == text
    return str(cell) == text


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write `frame` as CSV (`.csv`) or Parquet (`.parquet`); list cells become JSON text."""
    path = Path(path)
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            cells = [_cell_text(v) for v in out[column]]
            if len({type(c) for c in cells if c is not None}) > 1:  # Parquet wants one type a column
                cells = [None if c is None else str(c) for c in cells]
            out[column] = cells
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix == ".csv":
        out.to_csv(tmp, index=False)
    elif path.suffix == ".parquet":
        try:
            out.to_parquet(tmp, index=False)
        except ImportError:
            raise MesalabError("Parquet export needs pyarrow: pip install 'mesalab[sweep]'") from None
    else:
        raise MesalabError(f"{path}: export to .csv or .parquet")
    tmp.replace(path)
    return path


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts to dotted keys: {"ppo": {"lr": 1}} -> {"ppo.lr": 1}."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _status(folder: Path) -> str:
    if (folder / "results.json").exists():
        return "done"
    return "failed" if (folder / "error.json").exists() else "unfinished"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    check_schema(data, path)  # a newer record is an error, not a row of blanks
    return data


def _cell_text(value: Any) -> Any:
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value) if not isinstance(value, int | float | bool) else value
