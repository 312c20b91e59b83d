"""`tune`: Optuna searches an experiment's declared hyperparameters; trials run on Ray.

The meta-optimizer of the seeds: Optuna (TPE) proposes configs, each trial is a run
folder (`trial-0007/`) under the tune folder, at most `workers` at once (ask/tell, one
Ray task per trial). The study lives in `study.db` (SQLite) in the tune folder unless a
database URL is given, which lets machines share one study. The study name is stable
(`{experiment}-{spec hash}`), so running the same command again resumes: finished
trials are kept, and `trials` counts the total (completed plus failed). Trials left
running by a process of this host that has died are marked failed (`interrupted`) and
not counted. The sampler's seed derives from `(seed, study name, trials
already stored)`, so a resumed study does not repeat its first proposals.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path
from typing import Any

from tqdm import tqdm

from mesalab.config import Config, check
from mesalab.errors import MesalabError
from mesalab.seeding import derive_seed, derive_seed31
from mesalab.store import create_run_dir, write_json_atomic
from mesalab.sweep.experiment import SweepExperiment, get_sweep_experiment, with_overrides
from mesalab.sweep.ray_pool import TrialPool, TrialTask, check_address, ray_available, ray_session
from mesalab.sweep.records import TUNE_FILE, TuneResult
from mesalab.sweep.run import create_sweep_dir, locate_sweep_dir
from mesalab.sweep.space import SearchSpace, get_search_space


def open_storage(url: str) -> Any:
    """An Optuna RDB storage for `url`; a URL that cannot be opened is a `MesalabError`."""
    import optuna

    try:
        return optuna.storages.RDBStorage(url)
    except Exception as exc:  # bad scheme, missing driver, unreachable server, unwritable file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MesalabError(f"cannot open study storage {_redact(url)!r}: {first[:200]}") from None


def tune(
    experiment: str | SweepExperiment,
    trials: int,
    out_root: Path = Path("runs"),
    name: str | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    workers: int = 2,
    address: str | None = None,
    base_seed: int = 0,
    threads_per_trial: int = 1,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> TuneResult:
    """Run (or resume) a study until it holds `trials` finished trials; see the module docstring."""
    import optuna

    exp = get_sweep_experiment(experiment) if isinstance(experiment, str) else experiment
    space = get_search_space(exp.name)
    check(trials >= 1, "trials", f"must be >= 1, got {trials}")
    check(workers >= 1, "workers", f"must be >= 1, got {workers}")
    base_cfg = with_overrides(exp.config, overrides or {})
    with_overrides(base_cfg, space.sample_values())  # every tuned field exists: fail before any trial
    spec = _spec(exp, base_cfg, space, base_seed, storage)
    study_name = study_name or f"{exp.name}-{spec['spec_hash']}"
    if storage is not None:
        open_storage(storage)
    if address is not None:
        check_address(address)
    ray_available()
    tune_dir = locate_sweep_dir(Path(out_root), exp.name, spec, name, marker=TUNE_FILE, kind="tune")
    url = storage or f"sqlite:///{(tune_dir / 'study.db').resolve()}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = None
    if (tune_dir / TUNE_FILE).exists():  # resuming: count what the study already holds
        study = _open_study(optuna, study_name, url, space, base_seed)
    ran = 0
    if study is None or _counted(study) < trials:
        with ray_session(address, num_cpus=workers * threads_per_trial):
            if study is None:  # a new study: its folder is made only once Ray is up
                create_sweep_dir(tune_dir, spec, TUNE_FILE)
                study = _open_study(optuna, study_name, url, space, base_seed)
            resources = (workers, threads_per_trial, base_seed)
            ran = _run(study, exp, space, base_cfg, tune_dir, trials, resources, progress)
    return _finish(study, exp, tune_dir, url, space, ran)


def _open_study(optuna: Any, study_name: str, url: str, space: SearchSpace, base_seed: int) -> Any:
    study = optuna.create_study(
        study_name=study_name,
        storage=open_storage(url),
        direction=space.direction,  # type: ignore[arg-type]
        load_if_exists=True,
    )
    # seeded by the trials already stored too, so a resumed study does not repeat its first proposals
    seed = derive_seed(base_seed, "tune", study_name, len(study.get_trials(deepcopy=False)))
    study.sampler = optuna.samplers.TPESampler(seed=seed % (2**32))
    _reap_interrupted(study)
    return study


def _finish(
    study: Any, exp: SweepExperiment, tune_dir: Path, url: str, space: SearchSpace, ran: int
) -> TuneResult:
    result = _result(study, tune_dir, url, space, ran)
    write_json_atomic(tune_dir / "best.json", {k: v for k, v in vars(result).items() if k != "trials"})
    from mesalab.sweep.report import write_tune_report

    write_tune_report(result, exp)
    return result


def _run(
    study: Any,
    exp: SweepExperiment,
    space: SearchSpace,
    base_cfg: Config,
    tune_dir: Path,
    total: int,
    resources: tuple[int, int, int],
    progress: bool,
) -> int:
    import optuna

    workers, threads, base_seed = resources
    pool = TrialPool(workers, threads)
    asked: dict[int, Any] = {}
    ran = failed = 0
    bar = tqdm(total=total, initial=_counted(study), desc=tune_dir.name, disable=not progress, unit="trial")
    try:
        while True:
            while pool.has_room and _counted(study) + pool.running < total:
                trial = study.ask()
                trial.set_user_attr("owner", _owner())
                params = {p.name: p.suggest(trial) for p in space.params}
                seed = derive_seed31(base_seed, "tune", study.study_name, trial.number)
                try:
                    cfg = with_overrides(base_cfg, params).replace(seed=seed)
                except MesalabError as exc:  # a combination the config's own checks refuse
                    trial.set_user_attr("error", str(exc))
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    continue
                asked[trial.number] = trial
                pool.submit(_task(exp, tune_dir, trial.number, params, cfg, study.study_name))
            if not pool.running:
                break
            bar.set_postfix_str(f"running {pool.running} failed {failed}")
            _, record = pool.wait_one()
            trial = asked.pop(int(record["trial_number"]))
            value = record["results"].get(space.objective)
            ran += 1
            if record["status"] == "done" and isinstance(value, int | float):
                study.tell(trial, float(value))
            else:
                failed += 1
                error = record["error"] or f"no numeric {space.objective!r} in the results"
                trial.set_user_attr("error", error)
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                bar.write(f"trial {trial.number} failed: {error}")
            bar.update(1)
    except BaseException:
        pool.cancel_all()  # the trials left running are reaped (failed, not counted) next time
        raise
    finally:
        bar.close()
    return ran


def _task(
    exp: SweepExperiment, tune_dir: Path, number: int, params: dict[str, Any], cfg: Config, study: str
) -> TrialTask:
    trial_id = f"trial-{number:04d}"
    trial_dir = tune_dir / trial_id
    meta = {
        "sweep": tune_dir.name,
        "study": study,
        "experiment": exp.name,
        "trial_id": trial_id,
        "trial_number": number,
        "params": params,
        "seed_index": 0,
        "seed": getattr(cfg, "seed", 0),
    }
    create_run_dir(exp.name, cfg, root=tune_dir, name=trial_id)
    write_json_atomic(tune_dir / trial_id / "trial.json", meta)
    return TrialTask(trial_id, exp.run, cfg, trial_dir, meta)


def _counted(study: Any) -> int:
    """Completed trials plus those that failed on their own (interrupted ones do not count)."""
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    return sum(
        t.state == optuna.trial.TrialState.COMPLETE or "error" in t.user_attrs
        for t in study.get_trials(deepcopy=False, states=states)
    )


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _reap_interrupted(study: Any) -> None:
    """Mark failed the trials a dead process of this host left running."""
    import optuna

    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        owner_host, _, pid = str(t.user_attrs.get("owner", "")).rpartition(":")
        if owner_host == host and pid.isdigit() and not _alive(int(pid)):
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _result(study: Any, tune_dir: Path, url: str, space: SearchSpace, ran: int) -> TuneResult:
    import optuna

    rows = []
    for t in study.get_trials(deepcopy=False):
        folder = tune_dir / f"trial-{t.number:04d}"
        rows.append(
            {
                "number": t.number,
                "state": t.state.name.lower(),
                "value": t.value,
                "params": dict(t.params),
                "error": t.user_attrs.get("error"),
                "trial_dir": str(folder) if folder.exists() else None,
            }
        )
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    best = study.best_trial if complete else None
    return TuneResult(
        tune_dir=tune_dir,
        study_name=study.study_name,
        storage=_redact(url),
        direction=space.direction,
        objective=space.objective,
        best_params=dict(best.params) if best else None,
        best_value=best.value if best else None,
        trials=rows,
        ran=ran,
    )


def _redact(url: str) -> str:
    """The URL without a password (it is written to best.json)."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{rest.split('@', 1)[1]}"
    return url


def _spec(
    exp: SweepExperiment, cfg: Config, space: SearchSpace, base_seed: int, storage: str | None
) -> dict[str, Any]:
    identity = {
        "experiment": exp.name,
        "config": cfg.to_dict(),
        "space": space.to_dict(),
        "base_seed": base_seed,
        "storage": _redact(storage) if storage else None,
    }
    named = {**identity, "config": cfg.identity()}  # retired fields keep old hashes and study names
    text = json.dumps(named, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(text.encode()).hexdigest()[:6]
    return {**identity, "spec_hash": digest}
