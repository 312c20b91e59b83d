"""`mesalab run icl-gd` as a subprocess: a tiny run ends in a parseable report; bad input exits 2."""

from __future__ import annotations

import json
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cli_helpers import mesalab
from report_helpers import assert_readable_report, reproduce_line


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return mesalab(*args, cwd=cwd, timeout=120)


class Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources.append(dict(attrs).get("src") or "")


def test_tiny_run_writes_report_and_results(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    args = ["run", "icl-gd", "--quick", "--steps", "20", "--seed", "1", "--out", str(out), "--threads", "1"]
    result = run_cli(*args, "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run_dir,) = out.iterdir()
    assert run_dir.name.startswith("icl-gd-")
    parser = Images()
    parser.feed((run_dir / "report.html").read_text(encoding="utf-8"))
    assert len(parser.sources) >= 4
    assert all(src.startswith("data:image/png;base64,") for src in parser.sources)
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert set(results["models"]) == {"lsa-1", "lsa-3", "softmax-2"}
    assert results["shifts"][0]["distribution"] == "icl/train"
    assert results["training"]["lsa-1"]["steps"] == 20
    assert json.loads((run_dir / "config.json").read_text(encoding="utf-8"))["config"]["seed"] == 1
    for name in ("lsa-1", "lsa-3", "softmax-2"):
        assert (run_dir / f"{name}.safetensors").exists() and (run_dir / f"{name}.json").exists()
    metrics = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in metrics]
    assert any(row["tag"] == "lsa-1" and "losses/test_loss" in row for row in rows)
    assert {row["tag"] for row in rows} == {"lsa-1", "lsa-3", "softmax-2"}
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert_readable_report(html)
    assert "closest reference" in html
    # the Reproduce line, run as written, makes the same config
    again = tmp_path / "again"
    argv = reproduce_line(html)
    assert "--quick" in argv and "seed=1" in argv
    rerun = run_cli(*argv, "--out", str(again), "--threads", "1", "--no-progress", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    (second,) = again.iterdir()
    hashes = [
        json.loads((d / "config.json").read_text(encoding="utf-8"))["config_hash"] for d in (run_dir, second)
    ]
    assert hashes[0] == hashes[1]


@pytest.mark.parametrize(
    ("flag", "value", "field"),
    [
        ("--set", "task.n_context=0", "task.n_context"),
        ("--set", "task.dim=0", "task.dim"),
        ("--set", "task.pool_size=0", "task.pool_size"),
        ("--set", "task.noise=-0.5", "task.noise"),
        ("--set", "task.x_scale=-1", "task.x_scale"),
        ("--set", "task.w_scale=0", "task.w_scale"),
        ("--set", "task.x_dist=cauchy", "task.x_dist"),
    ],
)
def test_bad_input_is_one_line_naming_the_field(tmp_path: Path, flag: str, value: str, field: str) -> None:
    result = run_cli("run", "icl-gd", "--steps", "1", "--out", str(tmp_path), flag, value, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}: "), result.stderr
    assert not any(tmp_path.iterdir())  # nothing written for a rejected config
