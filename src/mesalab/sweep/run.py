"""`run_sweep`: a grid of trials on Ray, resumable, one run folder per trial.

The grid is the product of the axes' values times `seeds` seeds per point. Trial `k` of
the grid gets the id `t{k:03d}-{key=value...}-s{seed index}` and the seed
`derive_seed31(base_seed, "sweep", experiment, params, seed index)`: results depend on the
trial, never on the worker count or the order trials finish in.

Sweep folder `runs/{experiment}-sweep-{date}-{time}-{hash}/`: `sweep.json` (the spec),
one run folder per trial (`config.json`, `trial.json`, then `results.json` written last,
or `error.json` with the traceback), and at the end `table.csv`, `table.parquet` and
`report.html`. Running the same sweep again resumes it: finished trials are kept, failed
and unfinished ones run again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from mesalab import __version__
from mesalab.config import Config, check
from mesalab.errors import ConfigError, MesalabError
from mesalab.seeding import derive_seed31
from mesalab.store import create_run_dir, read_json, write_json_atomic
from mesalab.sweep.experiment import SweepExperiment, get_path, get_sweep_experiment, with_overrides
from mesalab.sweep.ray_pool import TrialPool, TrialTask, ray_available, ray_session
from mesalab.sweep.records import SWEEP_FILE, SweepResult, load_trial
from mesalab.sweep.records import TrialRecord as TrialRecord  # re-exported: the record types live in records


@dataclass(frozen=True)
class PlannedTrial:
    trial_id: str
    params: dict[str, Any]
    seed_index: int
    seed: int
    cfg: Config = field(repr=False)


def plan_trials(
    exp: SweepExperiment, axes: dict[str, list[Any]], seeds: int, base_seed: int
) -> list[PlannedTrial]:
    """Every trial of the grid, validated: a bad field or value raises `ConfigError` here."""
    check(seeds >= 1, "seeds", f"must be >= 1, got {seeds}")
    for key, values in axes.items():
        if key == "seed":
            raise ConfigError("seed", "trial seeds are derived from --seed and the trial; use --seeds N")
        check(isinstance(values, list | tuple), key, "axis values must be a list")
        check(len(values) > 0, key, "an axis needs at least one value")
    keys = list(axes)
    planned = []
    for k, combo in enumerate(itertools.product(*(axes[key] for key in keys))):
        cfg = with_overrides(exp.config, dict(zip(keys, combo, strict=True)))
        params = {key: get_path(cfg, key) for key in keys}  # typed as the config holds them
        for s in range(seeds):
            seed = derive_seed31(base_seed, "sweep", exp.name, _canonical(params), s)
            trial_id = f"t{k:03d}-{_slug(params)}s{s}"
            planned.append(PlannedTrial(trial_id, params, s, seed, cfg.replace(seed=seed)))
    ids = [p.trial_id for p in planned]
    check(len(set(ids)) == len(ids), "axes", "two grid points share a trial id (repeated axis value?)")
    return planned


def run_sweep(
    experiment: str | SweepExperiment,
    axes: dict[str, list[Any]],
    seeds: int,
    out_root: Path = Path("runs"),
    workers: int = 2,
    address: str | None = None,
    name: str | None = None,
    base_seed: int = 0,
    threads_per_trial: int = 1,
    progress: bool = True,
) -> SweepResult:
    """Run (or resume) a sweep; returns every trial's record. See the module docstring."""
    start = time.perf_counter()
    exp = get_sweep_experiment(experiment) if isinstance(experiment, str) else experiment
    check(workers >= 1, "workers", f"must be >= 1, got {workers}")
    check(threads_per_trial >= 1, "threads", f"must be >= 1, got {threads_per_trial}")
    planned = plan_trials(exp, axes, seeds, base_seed)
    spec = sweep_spec(exp, planned, axes, seeds, base_seed)
    ray_available()
    sweep_dir = locate_sweep_dir(Path(out_root), exp.name, spec, name)
    pending = [p for p in planned if not (sweep_dir / p.trial_id / "results.json").exists()]
    ray_start = 0.0
    if pending:
        with ray_session(address, num_cpus=workers * threads_per_trial) as session:
            ray_start = session.start_s
            create_sweep_dir(sweep_dir, spec)  # only now: bad input or no Ray writes nothing
            _run_pending(exp, sweep_dir, pending, len(planned), workers, threads_per_trial, progress)
    records = [load_trial(sweep_dir / p.trial_id) for p in planned]
    result = SweepResult(sweep_dir, exp.name, records, ray_start, time.perf_counter() - start, len(pending))
    finish_sweep(result, exp)
    return result


def _run_pending(
    exp: SweepExperiment,
    sweep_dir: Path,
    pending: list[PlannedTrial],
    total: int,
    workers: int,
    threads: int,
    progress: bool,
) -> None:
    pool = TrialPool(workers, threads)
    queue = list(pending)
    done = total - len(pending)
    failed = 0
    bar = tqdm(total=total, initial=done, desc=sweep_dir.name, disable=not progress, unit="trial")
    try:
        while queue or pool.running:
            while queue and pool.has_room:
                trial = queue.pop(0)
                pool.submit(_task(exp, sweep_dir, trial))
            bar.set_postfix_str(f"done {done} running {pool.running} failed {failed}")
            _, record = pool.wait_one()
            if record["status"] == "done":
                done += 1
            else:
                failed += 1
                bar.write(f"trial {record['trial_id']} failed: {record['error']}")
            bar.update(1)
        bar.set_postfix_str(f"done {done} running 0 failed {failed}")
    except BaseException:
        pool.cancel_all()  # interrupted: finished trials are on disk, the rest run next time
        raise
    finally:
        bar.close()


def _task(exp: SweepExperiment, sweep_dir: Path, trial: PlannedTrial) -> TrialTask:
    trial_dir = sweep_dir / trial.trial_id
    meta = {
        "sweep": sweep_dir.name,
        "experiment": exp.name,
        "trial_id": trial.trial_id,
        "params": trial.params,
        "seed_index": trial.seed_index,
        "seed": trial.seed,
    }
    if not (trial_dir / "config.json").exists():
        create_run_dir(exp.name, trial.cfg, root=sweep_dir, name=trial.trial_id)
        write_json_atomic(trial_dir / "trial.json", meta)
    return TrialTask(trial.trial_id, exp.run, trial.cfg, trial_dir, meta)


# ---- the sweep folder -------------------------------------------------------------------------------


def sweep_spec(
    exp: SweepExperiment, planned: list[PlannedTrial], axes: dict[str, Any], seeds: int, base_seed: int
) -> dict[str, Any]:
    """What identifies a sweep: experiment, default config, typed axes, seeds, base seed."""
    typed_axes: dict[str, list[Any]] = {key: [] for key in axes}
    for trial in planned:
        for key, value in trial.params.items():
            if value not in typed_axes[key]:
                typed_axes[key].append(value)
    identity = {
        "experiment": exp.name,
        "config": exp.config.to_dict(),
        "axes": typed_axes,
        "seeds": seeds,
        "base_seed": base_seed,
    }
    named = {**identity, "config": exp.config.identity()}  # retired fields keep old hashes
    digest = hashlib.sha256(_canonical(named).encode()).hexdigest()[:6]
    return {**identity, "spec_hash": digest, "trials": [p.trial_id for p in planned]}


def locate_sweep_dir(
    root: Path,
    experiment: str,
    spec: dict[str, Any],
    name: str | None,
    marker: str = SWEEP_FILE,
    kind: str = "sweep",
) -> Path:
    """The folder of this sweep (or tune, by `marker` file): named, found by its spec hash, or
    a new name. Writes nothing (`create_sweep_dir` does, once Ray is up)."""
    if name is not None:
        check(
            bool(name) and "/" not in name and name not in (".", ".."),
            "name",
            f"must be a folder name, got {name!r}",
        )
        path = root / name
        if (path / marker).exists():
            _check_same(path / marker, spec)
            return path
        check(
            not path.exists() or not any(path.iterdir()),
            "name",
            f"{path} exists and is not a {kind} folder",
        )
    else:
        found = find_sweep_by_hash(root, spec["spec_hash"], experiment, marker)
        if found is not None:
            return found
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = root / f"{experiment}-{kind}-{stamp}-{spec['spec_hash']}"
    return path


def create_sweep_dir(path: Path, spec: dict[str, Any], marker: str = SWEEP_FILE) -> None:
    """Make the folder and write its spec, unless it already holds one."""
    if (path / marker).exists():
        return
    path.mkdir(parents=True, exist_ok=True)
    created = dt.datetime.now().isoformat(timespec="seconds")
    write_json_atomic(path / marker, {**spec, "created": created, "mesalab_version": __version__})


def find_sweep_by_hash(root: Path, spec_hash: str, experiment: str, marker: str = SWEEP_FILE) -> Path | None:
    """The newest sweep folder directly under `root` with this spec (for resuming)."""
    if not root.is_dir():
        return None
    matches = []
    for path in root.iterdir():
        meta = path / marker
        if meta.exists():
            try:
                data = json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            if data.get("spec_hash") == spec_hash and data.get("experiment") == experiment:
                matches.append((str(data.get("created", "")), path))
    return max(matches)[1] if matches else None


def _check_same(marker: Path, spec: dict[str, Any]) -> None:
    path = marker.parent
    old = read_json(marker)
    if old.get("spec_hash") != spec["spec_hash"]:
        differ = [k for k in spec if k not in ("spec_hash", "trials") and old.get(k) != spec[k]]
        raise MesalabError(
            f"folder {path} holds another {marker.stem} (differs in {', '.join(differ) or 'spec'}); "
            "choose another --name to start a new one"
        )


def finish_sweep(result: SweepResult, exp: SweepExperiment) -> None:
    """Write the table (CSV, Parquet) and report.html, rebuilt from the trial folders."""
    from mesalab.sweep.index import write_table
    from mesalab.sweep.report import write_sweep_report

    table = result.table()
    write_table(table, result.sweep_dir / "table.csv")
    write_table(table, result.sweep_dir / "table.parquet")
    write_sweep_report(result, exp)


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def _slug(params: dict[str, Any]) -> str:
    if not params:
        return ""
    text = "-".join(f"{key.split('.')[-1]}={_short(value)}" for key, value in params.items())
    text = re.sub(r"[^A-Za-z0-9._=+-]", "_", text)
    if len(text) > 60:
        text = hashlib.sha256(text.encode()).hexdigest()[:10]
    return text + "-"


def _short(value: Any) -> str:
    if isinstance(value, list):
        return "+".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)
