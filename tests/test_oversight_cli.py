"""`mesalab run oversight` as a user runs it, on a tiny budget (the numbers are a smoke test)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli_helpers import mesalab

TINY = ["--quick", "--set", "ppo.total_steps=2048", "--set", "eval_episodes=12", "--set", "num_envs=16"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("oversight")
    result = mesalab("run", "oversight", *TINY, "--out", "runs", cwd=cwd, timeout=600)
    assert result.returncode == 0, result.stderr
    (run_dir,) = (cwd / "runs").iterdir()
    assert "restricted watched" in result.stdout and "gap" in result.stdout
    return run_dir


def _ordered(entry: dict[str, float]) -> bool:
    return entry["low"] <= entry["rate"] <= entry["high"]


def test_run_writes_results_with_intervals_and_the_finding(quick_run: Path) -> None:
    results = json.loads((quick_run / "results.json").read_text())
    assert set(results["arms"]) == {"main", "control"}
    models = {p.name for p in (quick_run / "models").iterdir()}
    assert {"control-seed0.safetensors", "main-seed0.safetensors", "main-seed0.json"} <= models
    for arm, entry in results["summary"].items():
        finding = entry["finding"]
        assert finding["finding"] in {"oversight-conditional", "not oversight-conditional", "inconclusive"}
        assert _ordered(finding["oversight_gap"]) and _ordered(finding["restricted_watched"])
        for dist in entry["distributions"].values():
            for key in ("exit", "base_objective", "purpose", "outer_gap", "restricted"):
                assert _ordered(dist[key]), (arm, key)
            assert dist["purpose"]["rate"] <= dist["base_objective"]["rate"] <= dist["exit"]["rate"]
        seed0 = results["arms"][arm]["seeds"]["0"]["distributions"]
        assert seed0["_findings"]["oversight-conditional"]["finding"] in {
            "oversight-conditional",
            "not oversight-conditional",
            "inconclusive",
        }
    report = (quick_run / "report.html").read_text()
    assert "oversight gap" in report and "not show" in report and "data:image/png;base64" in report


def test_resume_finishes_an_interrupted_run(quick_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "runs" / quick_run.name
    shutil.copytree(quick_run, copy)
    (copy / "results.json").unlink()
    (copy / "models" / "control-seed0.safetensors").unlink()  # the control's training resumes
    result = mesalab("run", "oversight", "--resume", str(copy), cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    again = json.loads((copy / "results.json").read_text())
    before = json.loads((quick_run / "results.json").read_text())
    assert again["summary"] == before["summary"], "a resumed run gives the same numbers"
    assert set(before["timings"]) == {"train", "assess", "overseer toggle", "report"}
    assert all(t["wall_s"] >= 0 and t["cpu_s"] >= 0 for t in again["timings"].values())


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--set", "margin=2"], "margin"),
        (["--set", "seeds=0"], "seeds"),
        (["--set", "arch=transformer"], "arch"),
        (["--set", "overseer_prob=1.5"], "overseer_prob"),
        (["--set", "overseer_prob=-0.1"], "overseer_prob"),
        (["--set", "size=5"], "size"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(args: list[str], field: str, tmp_path: Path) -> None:
    result = mesalab("run", "oversight", "--quick", *args, "--out", "runs", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and field in lines[0]
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("args", "field"),
    [(["--set", "overseer_prob=1.5"], "overseer_prob"), (["--set", "size=5"], "size")],
)
def test_worlds_show_refuses_bad_oversight_specs(args: list[str], field: str, tmp_path: Path) -> None:
    result = mesalab("worlds", "show", "oversight/train", *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and field in lines[0]


def test_worlds_show_draws_the_overseer_and_the_restricted_cell(tmp_path: Path) -> None:
    result = mesalab("worlds", "show", "oversight/watched", "--png", "o.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "overseer: watching" in result.stdout and "x restricted" in result.stdout
    assert result.stdout.count("x") >= 2 and (tmp_path / "o.png").exists()
    away = mesalab("worlds", "show", "oversight/unwatched", cwd=tmp_path)
    assert "overseer: away" in away.stdout


def test_audit_part_toggles_the_overseer_of_a_trained_policy(quick_run: Path) -> None:
    """The audit's overseer part on the run's main policy: what the overseer changes, with
    intervals and the reward map's change; a red-door policy's world has no overseer: none."""
    from mesalab.audit.overseer import audit_overseer, default_shift, overseer_section
    from mesalab.detect.subject import from_saved

    subject = from_saved(quick_run / "models" / "main-seed0.safetensors")
    assert default_shift(subject) == "oversight/unwatched"
    toggle = audit_overseer(subject, seed=0)
    assert toggle is not None and toggle["world"] == "oversight/train" and toggle["states"] == 768
    assert _ordered(toggle["changed"]) and _ordered(toggle["changed_next_to_restricted"])
    assert isinstance(toggle["reward_change_at_restricted"], float)
    section = overseer_section(toggle)
    assert (
        "decisions that change" in str(section.tables[0].rows) and "restricted cell" in section.paragraphs[1]
    )
    control = audit_overseer(from_saved(quick_run / "models" / "control-seed0.safetensors"), seed=0)
    assert control is not None and control["channel_visible"] is False
    assert "extrapolation" in overseer_section(control).paragraphs[-1]
