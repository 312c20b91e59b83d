"""The README's promises about runs, each checked end to end on a tiny budget.

- `mesalab run red-door --resume` after a finished model was deleted (its checkpoint kept)
  gives the results, and the model file byte for byte, of the run never interrupted;
- `results.json` is the newest file of a finished run folder, and a run killed (`kill -9`)
  mid-way leaves none; `--resume` then finishes it with the same numbers;
- a finished run given to `--resume` is reported as finished and left as it was;
- the thread count is recorded beside the config, outside its hash;
- a sweep of real torch trials gives the same results on one worker and on two.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.cli_helpers import ENV

from mesalab.cli import main

TINY = [
    "--quick",
    "--set", "ppo.total_steps=1024",
    "--set", "num_envs=16",
    "--set", "eval_episodes=20",
    "--set", "ppo.checkpoint_every=1",
    "--no-progress",
]  # fmt: skip
"""A red-door run of two arms, one seed each, 1024 PPO steps: under a minute on one thread."""


def _results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted((folder / "models").iterdir())}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted tiny red-door run."""
    root = tmp_path_factory.mktemp("claims")
    assert main(["run", "red-door", *TINY, "--out", str(root / "runs")]) == 0
    (folder,) = (root / "runs").iterdir()
    return folder


def test_results_json_is_written_last(finished: Path) -> None:
    newest = max(p.stat().st_mtime_ns for p in finished.rglob("*") if p.is_file())
    assert (finished / "results.json").stat().st_mtime_ns == newest


def test_threads_are_recorded_beside_the_config_not_in_its_hash(finished: Path) -> None:
    from mesalab.experiments.red_door import RedDoorConfig

    record = json.loads((finished / "config.json").read_text())
    assert record["threads"] == 1  # the suite runs on MESALAB_THREADS=1
    assert RedDoorConfig.from_dict(record["config"]).stable_hash() == record["config_hash"]


def test_resume_after_deleting_a_finished_model_keeps_its_checkpoint_and_bits(
    finished: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "runs" / finished.name
    shutil.copytree(finished, copy)
    (copy / "results.json").unlink()
    (copy / "models" / "diverse-seed0.safetensors").unlink()
    (copy / "models" / "diverse-seed0.json").unlink()
    assert (copy / "checkpoints" / "diverse-seed0" / "checkpoint.safetensors").exists()
    assert main(["run", "red-door", "--resume", str(copy), "--no-progress"]) == 0
    assert _results(copy) == _results(finished)
    assert _files(copy) == _files(finished), "the model rebuilt from its checkpoint is the same bytes"


def test_a_finished_run_is_reported_not_redone(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / finished.name
    shutil.copytree(finished, copy)
    before = {p: p.stat().st_mtime_ns for p in copy.rglob("*")}
    assert main(["run", "red-door", "--resume", str(copy), "--no-progress"]) == 0
    assert "is finished: nothing to resume" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in copy.rglob("*")} == before


def test_a_killed_run_leaves_no_results_and_resumes_to_the_same_numbers(
    finished: Path, tmp_path: Path
) -> None:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**ENV, "PYTHONPATH": src + os.pathsep + ENV.get("PYTHONPATH", "")}
    command = [sys.executable, "-m", "mesalab", "run", "red-door", *TINY, "--out", "runs"]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    try:
        while not list(tmp_path.glob("runs/*/models/narrow-seed0.safetensors")):
            assert process.poll() is None and time.monotonic() < deadline, "the run ended before the kill"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    (folder,) = (tmp_path / "runs").iterdir()
    assert not (folder / "results.json").exists()
    assert main(["run", "red-door", "--resume", str(folder), "--no-progress"]) == 0
    assert _results(folder) == _results(finished)
    assert _files(folder) == _files(finished)


def test_one_and_two_workers_give_identical_torch_trials(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    import mesalab.experiments  # noqa: F401  registers the flagships' sweep trials
    from mesalab.overrides import apply_sets
    from mesalab.sweep import get_sweep_experiment, run_sweep

    exp = get_sweep_experiment("emergence-icl-trial")
    tiny = ["steps=12", "eval_every=6", "batch_size=16", "eval_batch_size=64"]
    exp = dataclasses.replace(exp, config=apply_sets(exp.config, tiny))
    axes = {"pool_size": ["1", "4"]}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        one = run_sweep(exp, axes, seeds=1, out_root=tmp_path, workers=1, name="one", progress=False)
        two = run_sweep(exp, axes, seeds=1, out_root=tmp_path, workers=2, name="two", progress=False)
    finally:
        ray.shutdown()
    assert [t.status for t in one.trials] == ["done", "done"], [t.error for t in one.trials]
    assert _timeless(one) == _timeless(two)
    assert len({json.dumps(r, sort_keys=True) for r in _timeless(one).values()}) == 2  # the trials differ


def _timeless(result: Any) -> dict[str, dict[str, Any]]:
    """Each trial's results without its timings (seconds of wall clock are no result)."""
    return {t.trial_id: {k: v for k, v in t.results.items() if "seconds" not in k} for t in result.trials}
