"""emergence-icl (issue #6): the Bayes estimators, one trial, and the command through a real sweep."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch

from cli_helpers import mesalab
from mesalab.envs.icl.sampler import sample_seeded, task_pool
from mesalab.envs.icl.spec import TaskSpec
from mesalab.experiments.emergence_icl import EmergenceIclTrialConfig, closer_to, finding, run_trial
from mesalab.models.reference import bayes
from report_helpers import assert_readable_report, assert_reproduces

# ---- the estimators against slow obvious computations --------------------------------------------


def test_pool_posterior_mean_matches_brute_force() -> None:
    spec = TaskSpec(dim=3, n_context=4, noise=0.7, pool_size=6, pool_seed=5)
    batch = sample_seeded(spec, 9, 0, "test")
    pool = task_pool(spec).double()
    fast = bayes.pool_posterior_mean(batch.x, batch.y, task_pool(spec), spec.noise).double()
    for b in range(batch.size):  # product of Gaussian densities per task, normalised by hand
        x, y = batch.x[b].double(), batch.y[b].double()
        likes = []
        for w in pool:
            dens = 1.0
            for i in range(spec.n_context):
                r = float(y[i] - w @ x[i])
                dens *= math.exp(-(r * r) / (2 * spec.noise**2)) / math.sqrt(2 * math.pi * spec.noise**2)
            likes.append(dens)
        total = sum(likes)
        slow = sum(like / total * w for like, w in zip(likes, pool, strict=True))
        torch.testing.assert_close(fast[b], slow, rtol=1e-5, atol=1e-6)


def test_pool_posterior_of_one_task_is_that_task() -> None:
    spec = TaskSpec(dim=4, n_context=5, noise=0.5, pool_size=1)
    batch = sample_seeded(spec.replace(pool_size=None), 16, 0, "unseen")
    pool = task_pool(spec)
    est = bayes.pool_posterior_mean(batch.x, batch.y, pool, spec.noise)
    torch.testing.assert_close(est, pool.expand(16, -1))


def test_gaussian_posterior_mean_matches_the_textbook_formula() -> None:
    spec = TaskSpec(dim=3, n_context=5, noise=0.4, w_scale=2.0)
    batch = sample_seeded(spec, 8, 1, "test")
    fast = bayes.gaussian_posterior_mean(batch.x, batch.y, spec.noise, spec.w_scale).double()
    for b in range(batch.size):
        x, y = batch.x[b].double(), batch.y[b].double()
        precision = x.T @ x / spec.noise**2 + torch.eye(3, dtype=torch.float64) / spec.w_scale**2
        slow = torch.linalg.solve(precision, x.T @ y / spec.noise**2)
        torch.testing.assert_close(fast[b], slow, rtol=1e-4, atol=1e-5)


def test_a_dense_pool_posterior_approaches_ridge() -> None:
    """A pool of 40,000 tasks from N(0, I) in d = 2 is nearly the Gaussian prior itself."""
    spec = TaskSpec(dim=2, n_context=6, noise=0.5, pool_size=40_000, pool_seed=3)
    batch = sample_seeded(spec.replace(pool_size=None), 32, 2, "unseen")
    pool_est = bayes.pool_posterior_mean(batch.x, batch.y, task_pool(spec), spec.noise)
    ridge_est = bayes.gaussian_posterior_mean(batch.x, batch.y, spec.noise)
    assert float((pool_est - ridge_est).norm() / ridge_est.norm()) < 0.05


def test_estimators_refuse_noiseless_tasks() -> None:
    batch = sample_seeded(TaskSpec(dim=2, n_context=3), 2, 0, "x")
    with pytest.raises(ValueError, match="noise"):
        bayes.pool_posterior_mean(batch.x, batch.y, torch.zeros(3, 2), 0.0)


# ---- the rule -----------------------------------------------------------------------------------------


def test_closer_to_and_the_finding_rule() -> None:
    assert closer_to(0.1, 0.5) == "ridge"
    assert closer_to(0.5, 0.1) == "pool-bayes"
    assert closer_to(0.2, 0.2) == "same"
    rows = [
        {"pool_size": "1", "seeds_done": 2, "closer_to": "pool-bayes"},
        {"pool_size": "16", "seeds_done": 2, "closer_to": "ridge"},
        {"pool_size": "4", "seeds_done": 2, "closer_to": "pool-bayes"},
        {"pool_size": "64", "seeds_done": 2, "closer_to": "ridge"},
        {
            "pool_size": "inf",
            "seeds_done": 2,
            "closer_to": "same",
            "unseen_mse": 0.6,
            "unseen_ridge_mse": 0.5,
        },
    ]
    found = finding(rows)
    assert found["threshold"] == 16 and found["largest_memorising"] == 4
    assert found["inf_over_ridge"] == pytest.approx(1.2)
    rows[3]["closer_to"] = "pool-bayes"  # not ridge-like at the largest M: no transition in the grid
    assert finding(rows)["threshold"] is None


# ---- one trial, called directly ----------------------------------------------------------------------


def test_a_trial_measures_the_model_beside_both_estimators(tmp_path: Path) -> None:
    cfg = EmergenceIclTrialConfig(pool_size=4, steps=20, eval_every=10, eval_batch_size=1024, seed=3)
    out = run_trial(cfg, tmp_path)
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "metrics.jsonl").exists()
    assert out["pool"] == "4" and out["closer_to"] in ("ridge", "pool-bayes")
    for key, value in out.items():
        if key not in ("pool", "closer_to"):
            assert math.isfinite(value) and value >= 0, key
    # Each estimator is Bayes-optimal for its own prior: pool-Bayes on pool tasks, ridge on unseen ones.
    assert out["pool_pool_bayes_mse"] < out["pool_ridge_mse"]
    assert out["unseen_ridge_mse"] < out["unseen_pool_bayes_mse"]
    assert out["pool_pool_bayes_mse"] > 0.5 * cfg.noise**2  # cannot beat the noise by much
    json.dumps(out)  # flat and JSON-able for the sweep
    (tmp_path / "again").mkdir()  # the sweep hands every trial an existing folder
    again = run_trial(cfg, tmp_path / "again")
    assert again["unseen_mse"] == out["unseen_mse"]  # same config, same numbers


# ---- the command, through a real local Ray sweep -------------------------------------------------------


def test_quick_command_writes_report_and_aggregate_and_resumes(tmp_path: Path) -> None:
    args = ["run", "emergence-icl", "--quick", "--set", "trial.steps=30", "--set", "trial.eval_every=30"]
    args += ["--set", "pool_sizes=1,null"]
    args += ["--out", str(tmp_path / "runs"), "--name", "icl", "--no-progress"]
    first = mesalab(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    sweep = tmp_path / "runs" / "icl"
    assert re.search(r"^finding: ", first.stdout, re.MULTILINE)
    html = (sweep / "report.html").read_text()
    assert_readable_report(html)
    assert_reproduces(html, "emergence-icl", ["trial.steps=30", "trial.eval_every=30", "pool_sizes=1,null"])
    assert "emergence-icl" in html and "data:image/png;base64," in html and "t001-pool_size=None-s0" in html
    summary = json.loads((sweep / "emergence.json").read_text())
    rows = {r["pool_size"]: r for r in summary["per_pool_size"]}
    assert set(rows) == {"1", "inf"} and all(r["seeds_done"] == 1 for r in rows.values())
    assert rows["inf"]["unseen_ridge_mse"] == rows["inf"]["unseen_pool_bayes_mse"]
    assert rows["1"]["pool_pool_bayes_mse"] < rows["1"]["pool_ridge_mse"]
    assert (sweep / "table.csv").exists()
    results = sweep / "t000-pool_size=1-s0" / "results.json"
    stamp = results.stat().st_mtime_ns
    second = mesalab(*args, cwd=tmp_path)  # resumes: both trials are finished, none runs again
    assert second.returncode == 0, second.stderr[-3000:]
    assert results.stat().st_mtime_ns == stamp


def test_bad_pool_sizes_are_one_error_line_and_write_nothing(tmp_path: Path) -> None:
    for bad, fragment in (("one,two", "pool_sizes"),):  # a range error is in test_emergence_red_door
        bad_set = f"pool_sizes={bad}"
        out = mesalab("run", "emergence-icl", "--set", bad_set, "--out", str(tmp_path / "r"), cwd=tmp_path)
        assert out.returncode == 2, out.stderr
        assert out.stderr.strip().startswith("error: ") and fragment in out.stderr
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()
