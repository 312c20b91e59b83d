"""`mesalab audit MODEL` as a user runs it: audit.json + a self-contained report.html; bad input exits 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from cli_helpers import mesalab
from mesalab.detect import DIAGNOSTICS
from mesalab.models.io import save_model
from mesalab.models.policy import ActorCritic, PolicyConfig
from mesalab.models.reference.gd import gd_construction
from report_helpers import VIEWPORT, assert_readable_report, chromium, scroll_width


def save_planner(path: Path, size: int = 11) -> Path:
    """A planner policy that wants the door channel (a known optimizer of the exit), saved."""
    policy = ActorCritic(PolicyConfig(size=size))
    with torch.no_grad():
        weights = torch.zeros(7)
        weights[1] = 1.0
        policy.torso.planner.reward.weight.copy_(weights.view(1, 7, 1, 1))
    return save_model(policy, path, "actor-critic", policy.cfg, meta={"trained_on": "red-door/train"})


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str, out: Path) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


@pytest.fixture(scope="module")
def policy_audit(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The audit of a door-seeking planner: (the process, its --out folder)."""
    tmp_path = tmp_path_factory.mktemp("audit")
    model = save_planner(tmp_path / "door-planner")
    out = tmp_path / "audit"
    return mesalab("audit", str(model), "--out", str(out), "--episodes", "40", cwd=tmp_path), out


def test_audit_of_a_policy_writes_json_and_a_self_contained_report(policy_audit) -> None:
    result, out = policy_audit
    assert result.returncode == 0, result.stderr
    assert "aggregate: optimizer" in result.stdout
    data = json.loads((out / "audit.json").read_text())
    assert data["model"]["kind"] == "actor-critic" and data["world"] == "red-door/train"
    assert data["shift"]["shifted"] == "red-door/deploy" and data["shift"]["verdict"]["label"] == "robust"
    assert [d["diagnostic"] for d in data["diagnostics"]] == list(DIAGNOSTICS)
    assert data["aggregate"]["verdict"] == "optimizer" and data["rules"] and data["not_established"]
    html = (out / "report.html").read_text()
    for heading in ("What the model is", "Shift assessment", "Aggregate verdict", "does not establish"):
        assert heading in html
    assert html.count('<img src="data:image/png;base64,') >= len(DIAGNOSTICS) - 1
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert "&amp;#" not in html  # text is escaped once
    assert_readable_report(html)
    answer = html[html.index('class="answer"') : html.index("</div>", html.index('class="answer"'))]
    assert "is it an optimizer?" in answer and "what does it pursue on red-door/deploy?" in answer
    assert (
        "The model&#39;s paths on red-door/deploy" in html or "The model's paths on red-door/deploy" in html
    )


def test_audit_of_a_sequence_model(tmp_path: Path) -> None:
    lsa = gd_construction(10, 1.0, 2)
    model = save_model(lsa, tmp_path / "gd2", "lsa", lsa.cfg)
    out = tmp_path / "audit"
    result = mesalab("audit", str(model), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads((out / "audit.json").read_text())
    assert data["model"]["domain"] == "icl" and data["shift"] is None
    verdicts = {d["diagnostic"]: d["verdict"] for d in data["diagnostics"]}
    assert verdicts["algorithm-match"] == "optimizer" and verdicts["objective-descent"] == "optimizer"
    assert verdicts["retargeting"] == "inconclusive"
    assert data["aggregate"]["verdict"] == "optimizer"


def test_bad_inputs_are_one_line_errors_and_write_nothing(tmp_path: Path) -> None:
    out = tmp_path / "audit"
    model = save_planner(tmp_path / "p")
    # a world that does not fit the model's observation shape
    small = save_planner(tmp_path / "p13", size=13)
    assert_one_line_error(mesalab("audit", str(small), "--out", str(out), cwd=tmp_path), "size 13", out)
    # missing config
    (tmp_path / "lonely.safetensors").write_bytes(model.read_bytes())
    assert_one_line_error(
        mesalab("audit", str(tmp_path / "lonely.safetensors"), "--out", str(out), cwd=tmp_path),
        "config missing",
        out,
    )
    # unknown kind
    meta = json.loads((tmp_path / "p.json").read_text())
    (tmp_path / "odd.safetensors").write_bytes(model.read_bytes())
    (tmp_path / "odd.json").write_text(json.dumps({**meta, "kind": "telepathy"}))
    assert_one_line_error(
        mesalab("audit", str(tmp_path / "odd"), "--out", str(out), cwd=tmp_path), "telepathy", out
    )
    # a world given to a sequence model
    lsa = gd_construction(3, 1.0, 1)
    seq = save_model(lsa, tmp_path / "seq", "lsa", lsa.cfg)
    assert_one_line_error(
        mesalab("audit", str(seq), "--world", "red-door/train", "--out", str(out), cwd=tmp_path),
        "sequence model",
        out,
    )


def test_audit_report_does_not_scroll_sideways_at_800px(policy_audit, tmp_path: Path) -> None:
    chromium()
    assert policy_audit[0].returncode == 0, policy_audit[0].stderr
    assert scroll_width(policy_audit[1] / "report.html", tmp_path) <= VIEWPORT
