"""Sweeps on a real local Ray cluster (issue #6): failures recorded, resume, worker-count independence.

One Ray instance (2 CPUs) serves the module; `run_sweep` uses a Ray already running in the
process and leaves it up. The `tiny` experiment takes milliseconds and logs each attempt.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import mesalab.experiments  # noqa: F401  registers red-door-arm
from mesalab.errors import ConfigError, MesalabError
from mesalab.sweep import get_sweep_experiment, run_sweep
from mesalab.sweep.experiment import parse_axis, split_values, with_overrides
from mesalab.sweep.index import runs_index, where
from mesalab.sweep.run import plan_trials

ray = pytest.importorskip("ray")

AXES = {"x": ["0", "0.5", "1", "1.5"], "fail_when_x": ["1"]}


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def four_trials(ray_cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return root, run_sweep("tiny", AXES, seeds=1, out_root=root, workers=2, progress=False)


def _attempts(trial_dir: Path) -> list[str]:
    return [line.split()[0] for line in (trial_dir / "attempts.log").read_text().splitlines()]


def test_a_raising_trial_is_recorded_and_the_others_finish(four_trials) -> None:
    _, result = four_trials
    assert len(result.trials) == 4
    status = {t.params["x"]: t.status for t in result.trials}
    assert status == {0.0: "done", 0.5: "done", 1.0: "failed", 1.5: "done"}
    failed = next(t for t in result.trials if t.status == "failed")
    assert failed.error == "RuntimeError: tiny: told to fail at x = 1.0"
    error = json.loads((failed.trial_dir / "error.json").read_text())
    assert "Traceback" in error["traceback"] and "told to fail" in error["traceback"]
    assert not (failed.trial_dir / "results.json").exists()
    for t in result.trials:
        assert (t.trial_dir / "config.json").exists()  # an ordinary run folder
        if t.status == "done":
            assert t.results["score"] == pytest.approx((t.params["x"] - 0.5) ** 2 + t.results["noise"])


def test_table_csv_parquet_and_report(four_trials) -> None:
    _, result = four_trials
    folder = result.sweep_dir
    csv, parquet = pd.read_csv(folder / "table.csv"), pd.read_parquet(folder / "table.parquet")
    for table in (csv, parquet):
        assert list(table["trial_id"]) == [t.trial_id for t in result.trials]
        assert list(table["status"]) == ["done", "done", "failed", "done"]
        assert table["score"].notna().sum() == 3
    html = (folder / "report.html").read_text()
    assert "data:image/png;base64," in html and "told to fail" in html
    assert all(t.trial_id in html for t in result.trials)


def test_index_is_rebuilt_from_the_folders(four_trials) -> None:
    root, result = four_trials
    index = runs_index(root)
    assert sorted(index["trial_id"]) == sorted(t.trial_id for t in result.trials)
    assert list(where(index, ["status=failed"])["x"]) == [1.0]
    assert list(where(index, ["x=0.5", "status=done"])["trial_id"]) == [result.trials[1].trial_id]
    with pytest.raises(MesalabError, match="no such column"):
        where(index, ["nope=1"])


def test_rerun_keeps_finished_trials_and_reruns_the_failed_one(four_trials) -> None:
    root, first = four_trials
    again = run_sweep("tiny", AXES, seeds=1, out_root=root, workers=2, progress=False)
    assert again.sweep_dir == first.sweep_dir  # the same command finds the same sweep
    assert again.ran == 1
    for t in again.trials:
        expected = ["start", "finish"] if t.status == "done" else ["start", "start"]
        assert _attempts(t.trial_dir) == expected, t.trial_id
    assert [t.results for t in again.trials] == [t.results for t in first.trials]


def test_one_and_two_workers_give_identical_results(ray_cluster, tmp_path: Path) -> None:
    axes = {"x": ["-1", "0", "2"], "noise": ["0.5"]}
    one = run_sweep("tiny", axes, seeds=2, out_root=tmp_path, workers=1, name="one", progress=False)
    two = run_sweep("tiny", axes, seeds=2, out_root=tmp_path, workers=2, name="two", progress=False)
    columns = ["trial_id", "status", "seed", "x", "score", "noise"]
    pd.testing.assert_frame_equal(one.table()[columns], two.table()[columns])
    assert one.table()["score"].nunique() == 6  # seeds differ per trial


def test_trial_seeds_depend_on_the_trial_not_its_position() -> None:
    exp = get_sweep_experiment("tiny")
    a = {p.trial_id.split("-", 1)[1]: p.seed for p in plan_trials(exp, {"x": [0.0, 1.0]}, 2, 0)}
    b = {p.trial_id.split("-", 1)[1]: p.seed for p in plan_trials(exp, {"x": [1.0, 0.0]}, 2, 0)}
    assert a == b and len(set(a.values())) == 4
    assert plan_trials(exp, {"x": [0.0]}, 1, 1)[0].seed != plan_trials(exp, {"x": [0.0]}, 1, 0)[0].seed


def test_bad_axes_fail_before_anything_is_written(tmp_path: Path) -> None:
    cases = [
        ({"nope": ["1"]}, "nope: not a field of TinyConfig"),
        ({"x": ["abc"]}, "x: input should be a valid number"),
        ({"seed": ["1"]}, "use --seeds"),
        ({"noise": ["-1"]}, "noise: must be >= 0"),
    ]
    for axes, message in cases:
        with pytest.raises(ConfigError, match=message):
            run_sweep("tiny", axes, seeds=1, out_root=tmp_path / "runs", progress=False)
    assert not (tmp_path / "runs").exists()


def test_overrides_reach_nested_fields_and_parse_json() -> None:
    cfg = get_sweep_experiment("red-door-arm").config
    new = with_overrides(cfg, {"ppo.learning_rate": "0.005", "arm": "diverse"})
    assert new.ppo.learning_rate == 0.005 and new.arm == "diverse"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"ppo.nope: not a field of ppo"):
        with_overrides(cfg, {"ppo.nope": "1"})
    assert split_values('[1,2],"a,b",3') == ["[1,2]", '"a,b"', "3"]
    assert parse_axis("ppo.num_steps=16,32") == ("ppo.num_steps", ["16", "32"])
    with pytest.raises(MesalabError, match="expected KEY=V1,V2"):
        parse_axis("x")


def test_cli_joins_an_existing_cluster_by_address(ray_cluster, tmp_path: Path) -> None:
    address = ray.get_runtime_context().gcs_address
    args = ["sweep", "tiny", "--axis", "x=0,1", "--address", address, "--out", "runs", "--quiet"]
    result = subprocess.run(
        [sys.executable, "-m", "mesalab", *args], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "trials: 2 done, 0 failed" in result.stdout
    assert "Ray start" in result.stdout  # it connected (and only disconnected afterwards)
    assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 2  # the cluster is still up


def test_axis_value_null_means_none() -> None:
    """`--axis pool_size=null,16` reaches a field whose None means 'infinite'."""
    experiment = get_sweep_experiment("emergence-icl-trial")
    assert with_overrides(experiment.config, {"pool_size": "null"}).pool_size is None
    assert with_overrides(experiment.config, {"pool_size": "16"}).pool_size == 16
