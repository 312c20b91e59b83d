"""`mesalab zoo` as a user runs it: the table's verdicts match the zoo's ground truth."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import mesalab as run_mesalab
from mesalab.cli.zoo import print_zoo
from mesalab.detect import DIAGNOSTICS
from mesalab.detect.zoo_bench import run_zoo, score
from mesalab.zoo import get_entry, zoo_entries


def mesalab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_mesalab(*args, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def zoo_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = mesalab("zoo", "--json", cwd=tmp_path_factory.mktemp("zoo"))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_known_entry_gets_its_true_aggregate_verdict(zoo_json: dict[str, Any]) -> None:
    models = {m["name"]: m for m in zoo_json["models"]}
    known = [e for e in zoo_entries() if e.truth != "unknown"]
    assert set(models) == {e.name for e in known}
    for entry in known:
        assert models[entry.name]["aggregate"]["verdict"] == entry.truth, (
            entry.name,
            models[entry.name]["aggregate"],
        )
    twins = [e for e in known if e.twin_of]
    assert twins and all(models[t.name]["aggregate"]["verdict"] == "not-optimizer" for t in twins)


def test_no_diagnostic_is_wrong_on_a_known_entry(zoo_json: dict[str, Any]) -> None:
    for model in zoo_json["models"]:
        for name, evidence in model["diagnostics"].items():
            assert evidence["verdict"] in (model["truth"], "inconclusive"), (
                model["name"],
                name,
                evidence["reason"],
            )
            assert evidence["reason"]
    scores = zoo_json["scores"]
    assert set(scores) == {*DIAGNOSTICS, "aggregate"}
    assert all(s["wrong"] == 0 for s in scores.values())
    assert scores["aggregate"]["inconclusive"] == 0
    assert scores["counterfactual-competence"]["known"] == len(zoo_json["models"])


def test_behavioural_evidence_is_labelled(zoo_json: dict[str, Any]) -> None:
    for model in zoo_json["models"]:
        labels = {n: e["behavioural"] for n, e in model["diagnostics"].items()}
        assert labels["counterfactual-competence"] is True
        assert not any(v for n, v in labels.items() if n != "counterfactual-competence")


def test_the_table_shows_verdicts_and_per_diagnostic_scores(capsys: pytest.CaptureFixture[str]) -> None:
    rows = run_zoo([get_entry("gradient-descent"), get_entry("gradient-descent-lookup")])
    print_zoo(rows, score(rows))
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["model", "truth"] and "aggregate" in lines[0]
    for name in DIAGNOSTICS:  # every header whole: none cut with an ellipsis
        assert name in lines[0] or name in text.split("\n\n")[0], name
    assert "…" not in text
    assert "gradient-descent-lookup" in text
    assert re.search(r"not-optimizer\s+ok", text) and re.search(r"(?<!-)optimizer\s+ok", text)
    for name in DIAGNOSTICS:
        assert any(line.startswith(name) for line in lines), name


def test_bad_trained_root_is_one_line_error(tmp_path: Path) -> None:
    result = mesalab("zoo", "--trained", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().startswith("error:") and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
