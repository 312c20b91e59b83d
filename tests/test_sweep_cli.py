"""`mesalab sweep` as a user runs it: killed part-way and run again; `runs --sweep/--where`; bad input.

The sweep command starts its own local Ray cluster (and shuts it down). The kill test
kills the whole process group with SIGKILL once two trials have finished, then runs the
same command again: every trial finishes exactly once, and no trial that had finished
before the kill runs again.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from cli_helpers import ENV
from cli_helpers import mesalab as run_mesalab
from report_helpers import assert_readable_report

pytest.importorskip("ray")

XS = ["0", "0.25", "0.5", "0.75", "1", "1.25"]
COMMAND = ["sweep", "tiny", "--axis", f"x={','.join(XS)}", "--axis", "sleep_s=1", "--workers", "2"]


def mesalab(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return run_mesalab(*args, cwd=cwd, timeout=timeout)


def _lines(trial_dir: Path, word: str) -> int:
    path = trial_dir / "attempts.log"
    return path.read_text().split().count(word) if path.exists() else 0


@pytest.fixture(scope="module")
def killed_then_resumed(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    args = [sys.executable, "-m", "mesalab", *COMMAND, "--out", str(root), "--quiet"]
    proc = subprocess.Popen(
        args,
        cwd=root,
        env=ENV,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 150
    try:
        while time.monotonic() < deadline and len(list(root.glob("*/*/results.json"))) < 2:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            time.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the driver, and the Ray processes it started
        proc.wait(timeout=30)
    finished_before = {p.parent.name for p in root.glob("*/*/results.json")}
    assert 2 <= len(finished_before) < len(XS), finished_before
    second = mesalab(*COMMAND, "--out", str(root), "--quiet", cwd=root)
    return root, finished_before, second


def test_killed_sweep_resumes_without_losing_or_repeating_trials(killed_then_resumed) -> None:
    root, finished_before, second = killed_then_resumed
    assert second.returncode == 0, second.stderr[-2000:]
    (sweep_dir,) = [p for p in root.iterdir() if (p / "sweep.json").exists()]
    trials = sorted(p for p in sweep_dir.iterdir() if (p / "trial.json").exists())
    assert len(trials) == len(XS)
    for trial in trials:
        assert (trial / "results.json").exists(), trial.name
        assert _lines(trial, "finish") == 1, trial.name  # finished exactly once
        if trial.name in finished_before:
            assert _lines(trial, "start") == 1, trial.name  # never started again
    # trials running at the kill may still finish in their (orphaned) Ray workers: kept >= seen
    ran, kept = map(int, re.findall(r"\((\d+) run now, (\d+) kept from before\)", second.stdout)[0])
    assert ran + kept == len(XS) and kept >= len(finished_before) and ran >= 1


def test_sweep_report_opens_with_the_answer(killed_then_resumed) -> None:
    root = killed_then_resumed[0]
    (sweep_dir,) = [p for p in root.iterdir() if (p / "sweep.json").exists()]
    html = (sweep_dir / "report.html").read_text(encoding="utf-8")
    assert_readable_report(html)
    assert f"{len(XS)} of {len(XS)} trials finished" in html


def test_runs_lists_a_sweep_filters_and_exports(killed_then_resumed, tmp_path: Path) -> None:
    root = killed_then_resumed[0]
    (sweep_dir,) = [p for p in root.iterdir() if (p / "sweep.json").exists()]
    listed = mesalab(
        "runs", "--root", str(root), "--sweep", sweep_dir.name, "--where", "x=0.5",
        "--export", str(tmp_path / "t.parquet"), cwd=tmp_path,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows[0][:2] == ["trial_id", "status"] and "score" in rows[0]
    assert len([r for r in rows if r and r[0].startswith("t0")]) == 1
    table = pd.read_parquet(tmp_path / "t.parquet")
    assert list(table["x"]) == [0.5] and list(table["status"]) == ["done"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--axis", "nope=1,2"], "error: nope: not a field of TinyConfig"),
        (["--address", f"127.0.0.1:{_closed_port()}"], "error: cannot reach a Ray cluster at 127.0.0.1"),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_written(args: list[str], message: str, tmp_path: Path) -> None:
    result = mesalab("sweep", "tiny", *args, "--out", str(tmp_path / "runs"), cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(message), result.stderr
    assert not (tmp_path / "runs").exists()
