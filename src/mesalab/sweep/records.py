"""What a sweep or a study leaves on disk, as records: the one module the runner, the index,
the reports and `tune` share (none of them imports another for its types).

A sweep folder holds `sweep.json` (the spec) and one run folder per trial; a trial folder
holds `trial.json` when planned, then `results.json` (done) or `error.json` (failed).
`load_trial` reads a trial back as a `TrialRecord`; `trials_table` makes a table of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mesalab.errors import MesalabError
from mesalab.store import read_json

if TYPE_CHECKING:
    import pandas as pd

SWEEP_FILE = "sweep.json"
"""The spec of a sweep, in its folder."""
TUNE_FILE = "tune.json"
"""The spec of a study, in its tune folder."""


@dataclass
class TrialRecord:
    """One trial of a sweep as its folder records it."""

    trial_id: str
    params: dict[str, Any]
    seed_index: int
    seed: int
    status: str
    """`done`, `failed`, or `unfinished` (only while a sweep is interrupted)."""
    results: dict[str, Any]
    error: str | None
    wall_s: float
    trial_dir: Path


@dataclass
class SweepResult:
    """A finished sweep: its folder and every trial."""

    sweep_dir: Path
    experiment: str
    trials: list[TrialRecord]
    ray_start_s: float = 0.0
    """Seconds `ray.init` took (0 when Ray was already running in this process)."""
    wall_s: float = 0.0
    """Seconds from the start of `run_sweep` to its end, Ray start and stop included."""
    ran: int = 0
    """Trials run by this call (the others were finished before)."""

    def table(self) -> pd.DataFrame:
        """One row per trial: id, status, params, seed, results, error, wall time, folder."""
        return trials_table(self.trials)


@dataclass
class TuneResult:
    """A study after `tune`: where it is, its best trial, and every trial."""

    tune_dir: Path
    study_name: str
    storage: str
    direction: str
    objective: str
    best_params: dict[str, Any] | None
    best_value: float | None
    trials: list[dict[str, Any]] = field(default_factory=list)
    """Per trial: number, state, value, params, folder (when run from this folder)."""
    ran: int = 0
    """Trials run by this call."""


def load_trial(trial_dir: Path) -> TrialRecord:
    """A trial's record from its folder: results.json, else error.json, else unfinished."""
    for name in ("results.json", "error.json", "trial.json"):
        path = trial_dir / name
        if path.exists():
            data = read_json(path)
            break
    else:
        raise MesalabError(f"{trial_dir}: not a sweep trial (no trial.json)")
    status = data.get("status", "unfinished") if name != "trial.json" else "unfinished"
    return TrialRecord(
        trial_id=str(data["trial_id"]),
        params=dict(data.get("params", {})),
        seed_index=int(data.get("seed_index", 0)),
        seed=int(data.get("seed", 0)),
        status=status,
        results=dict(data.get("results") or {}),
        error=data.get("error"),
        wall_s=float(data.get("wall_s", 0.0)),
        trial_dir=trial_dir,
    )


def trials_table(records: Iterable[TrialRecord]) -> pd.DataFrame:
    """A sweep's trials: id, status, params, seed, results, error, wall time, folder."""
    rows = []
    for r in records:
        row: dict[str, Any] = {"trial_id": r.trial_id, "status": r.status, "seed_index": r.seed_index}
        row["seed"] = r.seed
        row.update(r.params)
        merge_results(row, r.results)
        row.update({"error": r.error, "wall_s": r.wall_s, "trial_dir": str(r.trial_dir)})
        rows.append(row)
    return require_pandas().DataFrame(rows)


def merge_results(row: dict[str, Any], results: dict[str, Any]) -> None:
    """Add a trial's flat results to its table row; a result named like a column gets `result.`."""
    for key, value in results.items():
        row[f"result.{key}" if key in row else key] = value


def require_pandas() -> Any:
    """The pandas module, or a `MesalabError` saying how to install it."""
    try:
        import pandas
    except ImportError:
        raise MesalabError("results tables need pandas: pip install 'mesalab[sweep]'") from None
    return pandas
