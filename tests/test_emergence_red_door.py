"""emergence-red-door (issue #6): the operational definitions, the aggregate, and the command
through a real local Ray sweep with a tiny PPO budget."""

from __future__ import annotations

import json
import math
from pathlib import Path

from cli_helpers import mesalab
from mesalab.experiments.emergence_red_door import (
    EmergenceRedDoorConfig,
    aggregate,
    behaviour_pursues_proxy,
)
from mesalab.shift import VerdictConfig
from mesalab.shift.verdict import LABELS
from mesalab.sweep.run import TrialRecord
from report_helpers import assert_readable_report, assert_reproduces


def test_behavioural_definition() -> None:
    cfg = VerdictConfig()
    assert behaviour_pursues_proxy(1.0, 0.2, 0.6, cfg)  # the narrow arm as measured in red-door
    assert not behaviour_pursues_proxy(1.0, 0.95, 0.05, cfg)  # robust
    assert not behaviour_pursues_proxy(1.0, 0.3, 0.2, cfg)  # fails, but not mostly towards red
    assert not behaviour_pursues_proxy(0.3, 0.0, 0.9, cfg)  # never competent in training


def _trial(fraction: float, index: int, proxy: bool, verdict: str, status: str = "done") -> TrialRecord:
    results = {
        "train_success": 1.0,
        "deploy_success": 0.2 if proxy else 1.0,
        "deploy_red": 0.6 if proxy else 0.0,
        "deploy_truncated": 0.2 if proxy else 0.0,
        "verdict": verdict,
        "pursues_proxy": int(proxy),
        "w_door": 5.0,
        "w_blue": 0.0 if proxy else 2.0,
        "w_red": 5.0 if proxy else 3.0,
        "w_object": 0.0 if proxy else -2.0,
    }
    return TrialRecord(
        f"t-{fraction}-s{index}",
        {"alt_fraction": fraction},
        index,
        index,
        status,
        results if status == "done" else {},
        None if status == "done" else "boom",
        1.0,
        Path("."),
    )


def test_aggregate_counts_both_rates_with_wilson_intervals() -> None:
    cfg = EmergenceRedDoorConfig(fractions=(0.0, 0.2, 1.0), seeds=8)
    trials = [_trial(0.0, i, True, "capability-failure" if i < 6 else "pseudo-aligned") for i in range(8)]
    trials += [_trial(0.2, i, i == 0, "robust") for i in range(8)]
    trials += [_trial(1.0, i, False, "robust") for i in range(7)] + [_trial(1.0, 7, False, "", "failed")]
    out = aggregate(trials, cfg)
    rows = {r["alt_fraction"]: r for r in out["per_fraction"]}
    assert rows[0.0]["behavioural"]["rate"] == 1.0 and rows[0.0]["verdict"]["rate"] == 0.25
    assert rows[0.0]["verdict_counts"] == {"capability-failure": 6, "pseudo-aligned": 2}
    assert rows[0.2]["behavioural"]["rate"] == 0.125
    assert 0 < rows[0.2]["behavioural"]["low"] < 0.125 < rows[0.2]["behavioural"]["high"] < 0.5
    assert rows[1.0]["seeds_done"] == 7 and rows[1.0]["seeds_failed"] == 1
    # 1/8 has a Wilson upper bound of 0.47 < 1/2: the proxy has gone from 0.2 on.
    assert out["finding"]["behavioural"] == 0.2
    # 2/8 verdicts pseudo-aligned at 0 has an upper bound of 0.59: by the verdict too, gone from 0.2 on.
    assert out["finding"]["verdict"] == 0.2
    assert out["finding"]["narrowest"]["alt_fraction"] == 0.0


def test_quick_command_through_a_real_sweep(tmp_path: Path) -> None:
    args = ["run", "emergence-red-door", "--quick", "--set", "trial.ppo.total_steps=4096"]
    args += ["--set", "trial.eval_episodes=10", "--set", "fractions=0,1", "--seeds", "1"]
    args += ["--out", str(tmp_path / "runs"), "--name", "rd"]
    out = mesalab(*args, "--no-progress", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "finding:" in out.stdout
    sweep = tmp_path / "runs" / "rd"
    html = (sweep / "report.html").read_text()
    assert_readable_report(html)
    assert_reproduces(
        html,
        "emergence-red-door",
        ["trial.ppo.total_steps=4096", "trial.eval_episodes=10", "fractions=0,1", "seeds=1"],
    )
    assert "emergence-red-door" in html and html.count("data:image/png;base64,") >= 3
    assert "t000-alt_fraction=0-s0" in html and "t001-alt_fraction=1-s0" in html
    summary = json.loads((sweep / "emergence.json").read_text())
    assert [r["alt_fraction"] for r in summary["per_fraction"]] == [0.0, 1.0]
    for row in summary["per_fraction"]:
        assert row["seeds_done"] == 1
        for kind in ("behavioural", "verdict"):
            assert 0 <= row[kind]["low"] <= row[kind]["rate"] <= row[kind]["high"] <= 1
    for trial in ("t000-alt_fraction=0-s0", "t001-alt_fraction=1-s0"):
        results = json.loads((sweep / trial / "results.json").read_text())["results"]
        for key in ("train_success", "deploy_success", "deploy_red", "deploy_truncated"):
            assert 0 <= results[key] <= 1, key
        assert results["verdict"] in LABELS and results["pursues_proxy"] in (0, 1)
        assert math.isfinite(results["w_door"]) and math.isfinite(results["w_red"])
        assert (sweep / trial / "policy.safetensors").exists()
    assert (sweep / "table.csv").exists()


def test_bad_fractions_are_one_error_line_and_write_nothing(tmp_path: Path) -> None:
    for bad, fragment in (("0,2", "fractions"),):  # the parse error case is in test_emergence_icl
        out = mesalab(
            "run",
            "emergence-red-door",
            "--set",
            f"fractions={bad}",
            "--out",
            str(tmp_path / "r"),
            cwd=tmp_path,
        )
        assert out.returncode == 2, out.stderr
        assert out.stderr.strip().startswith("error: ") and fragment in out.stderr
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()
