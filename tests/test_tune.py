"""`tune`: Optuna over an experiment's search space, SQLite study in the folder, trials on Ray.

A study of 3 trials is run, then a trial is left `running` by a process that has died (as
a killed tune leaves it), then the same tune is asked for 5: the 3 finished trials are
kept unchanged and not run again, the orphan is marked failed and not counted, and two
new trials run.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mesalab.errors import ConfigError, MesalabError
from mesalab.sweep import SweepExperiment, register_sweep_experiment
from mesalab.sweep.builtin import TinyConfig, run_tiny
from mesalab.sweep.experiment import SWEEP_EXPERIMENTS
from mesalab.sweep.tune import tune

ray = pytest.importorskip("ray")
optuna = pytest.importorskip("optuna")


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _starts(trial_dir: Path) -> int:
    return (trial_dir / "attempts.log").read_text().split().count("start")


def test_sqlite_study_resumes_where_it_stopped(ray_cluster, tmp_path: Path) -> None:
    first = tune("tiny", 3, out_root=tmp_path, workers=2, progress=False)
    assert first.ran == 3 and first.storage == f"sqlite:///{(first.tune_dir / 'study.db').resolve()}"
    assert [t["state"] for t in first.trials] == ["complete"] * 3

    # a trial left running by a tune that was killed: its owner process no longer exists
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    study = optuna.load_study(study_name=first.study_name, storage=first.storage)
    orphan = study.ask()
    orphan.set_user_attr("owner", f"{socket.gethostname()}:{dead.pid}")

    second = tune("tiny", 5, out_root=tmp_path, workers=2, progress=False)
    assert second.tune_dir == first.tune_dir and second.study_name == first.study_name
    assert second.ran == 2
    states = {t["number"]: t["state"] for t in second.trials}
    assert states == {0: "complete", 1: "complete", 2: "complete", 3: "fail", 4: "complete", 5: "complete"}
    assert [t["params"] for t in second.trials[:3]] == [t["params"] for t in first.trials]
    new_x = [t["params"]["x"] for t in second.trials[4:]]
    assert not set(new_x) & {t["params"]["x"] for t in first.trials}  # the sampler did not restart
    for t in second.trials:
        if t["state"] == "complete":
            assert _starts(Path(t["trial_dir"])) == 1  # every trial ran once
    values = [t["value"] for t in second.trials if t["state"] == "complete"]
    assert second.best_value == min(values)  # tiny's score is minimized
    assert (second.tune_dir / "report.html").exists() and (second.tune_dir / "best.json").exists()

    third = tune("tiny", 5, out_root=tmp_path, workers=2, progress=False)
    assert third.ran == 0 and len(third.trials) == 6


def test_tuned_fields_and_storage_are_checked_before_any_trial(tmp_path: Path) -> None:
    with pytest.raises(MesalabError, match="cannot open study storage"):
        tune("tiny", 2, out_root=tmp_path / "a", storage=f"sqlite:///{tmp_path}/missing/dir/x.db")
    untunable = SweepExperiment("test-untunable", TinyConfig(), run_tiny)
    if "test-untunable" not in SWEEP_EXPERIMENTS:
        register_sweep_experiment(untunable)
    with pytest.raises(MesalabError, match="declares no search space"):
        tune("test-untunable", 2, out_root=tmp_path / "b")
    with pytest.raises(ConfigError, match="nope: not a field"):
        tune("tiny", 2, out_root=tmp_path / "b", overrides={"nope": "1"})
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_bad_database_url_is_one_line_exit_2(tmp_path: Path) -> None:
    url = "postgresql://user:secret@127.0.0.1:1/db"
    result = subprocess.run(
        [sys.executable, "-m", "mesalab", "tune", "tiny", "--trials", "2", "--storage", url, "--out", "runs"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot open study storage") and result.stderr.count("\n") == 1
    assert "secret" not in result.stderr
    assert not (tmp_path / "runs").exists()
