"""The red-door experiment through its command line, as a user runs it (issue #3).

`mesalab run red-door --quick` with a tiny budget writes a complete run folder;
`runs`, `show` and `assess` read it back; bad input is one `error:` line and exit 2.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cli_helpers import ENV, mesalab
from mesalab.envs.gridworld import BASE_OBJECTIVE, GridWorld, get_distribution
from mesalab.experiments.red_door import ARMS, SHIFTS
from mesalab.models.io import save_model
from mesalab.models.policy import ActorCritic, PolicyConfig
from mesalab.shift import VerdictConfig
from mesalab.shift.verdict import LABELS
from report_helpers import VIEWPORT, assert_readable_report, reproduce_line, screenshot, scroll_width

RUN = [
    "run",
    "red-door",
    "--quick",
    "--seeds",
    "1",
    "--set",
    "ppo.total_steps=4096",
    "--set",
    "eval_episodes=20",
]
EPISODES = 20


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def run_folder(result: subprocess.CompletedProcess[str]) -> Path:
    match = re.search(r"^run folder: (.+)$", result.stdout, re.MULTILINE)
    assert match, result.stdout
    return Path(match.group(1).strip())


@pytest.fixture(scope="module")
def quick_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """One quick run: (the process, the --out root, the run folder)."""
    cwd = tmp_path_factory.mktemp("cwd")
    root = tmp_path_factory.mktemp("runs")
    result = mesalab(*RUN, "--out", str(root), cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = run_folder(result)
    if not folder.is_absolute():
        folder = cwd / folder
    return result, root, folder


@pytest.fixture(scope="module")
def results(quick_run) -> dict:
    return json.loads((quick_run[2] / "results.json").read_text(encoding="utf-8"))


# ---- the run folder ----------------------------------------------------------------------------


def test_run_writes_a_complete_run_folder(quick_run) -> None:
    result, root, folder = quick_run
    assert folder.parent == root
    for name in ("config.json", "metrics.jsonl", "results.json", "report.html"):
        assert (folder / name).is_file(), name
    for arm in ARMS:
        assert (folder / "models" / f"{arm}-seed0.safetensors").is_file()
        assert (folder / "models" / f"{arm}-seed0.json").is_file()
    config = json.loads((folder / "config.json").read_text())
    assert config["experiment"] == "red-door"
    assert config["config"]["seeds"] == 1
    assert config["config"]["eval_episodes"] == EPISODES
    assert config["config"]["ppo"]["total_steps"] == 4096
    assert "report.html" in result.stdout


def test_metrics_are_named_namespace_slash_name(quick_run) -> None:
    rows = [json.loads(line) for line in (quick_run[2] / "metrics.jsonl").read_text().splitlines()]
    assert rows
    assert {row["tag"] for row in rows} == {f"{arm}/seed0" for arm in ARMS}
    for row in rows:
        assert isinstance(row["step"], int)
        for key in set(row) - {"step", "tag"}:
            namespace, _, name = key.partition("/")
            assert namespace and name and "/" not in name, key
        assert "charts/success" in row and f"objectives/{BASE_OBJECTIVE}" in row
        assert "charts/episodic_return" in row and "charts/episodic_length" in row


def test_one_tensorboard_run_per_trained_model(quick_run) -> None:
    pytest.importorskip("tensorboard")
    board = quick_run[2] / "tensorboard"
    assert sorted(p.name for p in board.iterdir()) == sorted(f"{arm}-seed0" for arm in ARMS)
    assert all(any(p.glob("events.out.tfevents.*")) for p in board.iterdir())


def _check_rate(rate: dict, n: int) -> None:
    assert set(rate) == {"rate", "low", "high", "n"}
    assert rate["n"] == n
    assert 0.0 <= rate["low"] <= rate["rate"] <= rate["high"] <= 1.0


def test_results_hold_success_reach_inference_and_verdicts(results, quick_run) -> None:
    assert results["experiment"] == "red-door"
    assert set(results["arms"]) == {"narrow", "diverse"}
    candidates = set(GridWorld(get_distribution("red-door/deploy"), 1, seed=0).objective_names)
    for arm, arm_result in results["arms"].items():
        assert arm_result["trained_on"] == ARMS[arm]
        seed = arm_result["seeds"]["0"]
        assert (quick_run[2] / seed["model"]).is_file()
        distributions = {k: v for k, v in seed["distributions"].items() if not k.startswith("_")}
        assert set(distributions) == {ARMS[arm], *SHIFTS}
        for name, entry in distributions.items():
            _check_rate(entry["success"], EPISODES)
            assert set(entry["reach"]) == candidates
            for rate in entry["reach"].values():
                _check_rate(rate, EPISODES)
            assert entry["reach"][BASE_OBJECTIVE]["rate"] == entry["success"]["rate"]
            ranking = entry["inference"]["ranking"]
            assert {row["objective"] for row in ranking} == candidates
            assert entry["inference"]["best"] in candidates | {"none"}
            if name == ARMS[arm]:
                assert "verdict" not in entry  # the training distribution is the baseline
                continue
            verdict = entry["verdict"]
            assert verdict["label"] in LABELS
            assert (verdict["proxy"] != "") == (verdict["label"] == "pseudo-aligned")
            assert verdict["thresholds"] == VerdictConfig().to_dict()
            assert verdict["numbers"]["shifted_success"] == entry["success"]["rate"]
            assert verdict["numbers"]["train_success"] == distributions[ARMS[arm]]["success"]["rate"]
        assert "inference" in seed["distributions"]["_pooled_shifts"]
    assert set(results["summary"]) == set(ARMS)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "action", "poster"):
                self.links.append((tag, name, value or ""))
            if tag == "img" and name == "src":
                self.images.append(value or "")


def test_report_is_self_contained_html(quick_run) -> None:
    text = (quick_run[2] / "report.html").read_text(encoding="utf-8")
    parser = _Links()
    parser.feed(text)
    parser.close()
    assert parser.images, "the report shows no figures"
    prefix = "data:image/png;base64,"
    for src in parser.images:
        assert src.startswith(prefix), src[:80]
        assert base64.b64decode(src[len(prefix) :], validate=True).startswith(b"\x89PNG\r\n\x1a\n")
    for tag, name, value in parser.links:
        assert not re.match(r"\s*(https?:)?//", value, re.IGNORECASE), (tag, name, value[:80])
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text, re.IGNORECASE)


def test_report_opens_with_the_answer_and_reproduces_the_config(quick_run) -> None:
    from mesalab.cli.settings import flagship_config

    text = (quick_run[2] / "report.html").read_text(encoding="utf-8")
    assert_readable_report(text)
    assert "verdict on deploy" in text and "Paths of both arms" in text
    argv = reproduce_line(text)
    assert argv[:2] == ["run", "red-door"]
    assert all(a == "--quick" or a == "--set" or argv[i - 1] == "--set" for i, a in enumerate(argv[2:], 2))
    sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    cfg = flagship_config("red-door", "--quick" in argv, sets)
    recorded = json.loads((quick_run[2] / "config.json").read_text(encoding="utf-8"))["config_hash"]
    assert cfg.stable_hash() == recorded


def test_report_does_not_scroll_sideways_at_800px(quick_run, tmp_path: Path) -> None:
    assert scroll_width(quick_run[2] / "report.html", tmp_path) <= VIEWPORT
    png = screenshot(quick_run[2] / "report.html", tmp_path / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and int.from_bytes(png[16:20], "big") == VIEWPORT


# ---- runs, show, assess -------------------------------------------------------------------------


def test_runs_lists_the_run(quick_run, tmp_path: Path) -> None:
    _, root, folder = quick_run
    result = mesalab("runs", "--root", str(root), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith(folder.name))
    assert "red-door" in line.split() and "finished" in line.split()


def test_show_prints_the_results_table(quick_run, tmp_path: Path) -> None:
    _, root, folder = quick_run
    result = mesalab("show", folder.name, "--root", str(root), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["arm", "seed", "distribution"]
    rows = [line.split() for line in lines[2:] if line.strip()]
    assert len(rows) == len(ARMS) * (1 + len(SHIFTS))
    for arm, train in ARMS.items():
        assert [arm, "0", train] == next(r for r in rows if r[0] == arm and r[2] == train)[:3]
    assert sum("(training distribution)" in line for line in lines) == len(ARMS)
    assert all(re.search(r"\d+% \[\d+%,\d+%\]", line) for line in lines[2:] if line.strip())


def test_assess_prints_a_verdict(quick_run, tmp_path: Path) -> None:
    model = quick_run[2] / "models" / "narrow-seed0.safetensors"
    args = ["assess", str(model), "--world", "red-door/deploy", "--episodes", str(EPISODES)]
    text = mesalab(*args, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    verdicts = [line for line in text.stdout.splitlines() if line.startswith("verdict: ")]
    assert len(verdicts) == 1
    assert verdicts[0].removeprefix("verdict: ").split(" ")[0] in LABELS
    as_json = mesalab(*args, "--json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["verdict"]["label"] in LABELS
    assert data["world"]["distribution"] == "red-door/deploy"
    assert data["world"]["episodes"] == EPISODES
    assert set(data["baseline"]) == {"red-door/train"}  # the model's own training distribution
    # same seed, same answer, with its bootstrap confidence
    assert f"verdict: {data['verdict']['text']}, {data['verdict']['confidence_text']}" == verdicts[0]
    assert 0.0 <= data["verdict"]["confidence"]["confidence"] <= 1.0


def test_assess_in_a_fresh_interpreter(quick_run, tmp_path: Path) -> None:
    model = quick_run[2] / "models" / "narrow-seed0.safetensors"
    result = mesalab("assess", str(model), "--world", "red-door/blue-exit", "--episodes", "5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "verdict: " in result.stdout


# ---- bad input ------------------------------------------------------------------------------------


def test_unknown_distribution_is_one_line(quick_run, tmp_path: Path) -> None:
    model = quick_run[2] / "models" / "narrow-seed0.safetensors"
    result = mesalab("assess", str(model), "--world", "red-door/nope", cwd=tmp_path)
    assert_one_line_error(result, "unknown distribution 'red-door/nope'", "red-door/deploy")
    assert result.stdout == ""


def test_unknown_observation_mode_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = mesalab(*RUN, "--set", "obs_mode=nonsense", "--out", str(out), cwd=tmp_path)
    assert_one_line_error(result, "obs_mode", "nonsense", "symbolic")
    assert not out.exists() or not any(out.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["out"])


def _size_mismatch(path: Path) -> None:
    small = ActorCritic(PolicyConfig(size=7))
    save_model(small, path, "actor-critic", small.cfg, meta={"trained_on": "red-door/train"})


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


BROKEN_MODELS = {
    "missing file": (lambda p: p.unlink(), "no such model file"),
    "missing config": (lambda p: p.with_suffix(".json").unlink(), "model config missing"),
    "invalid config JSON": (lambda p: p.with_suffix(".json").write_text("{"), "not valid JSON"),
    "truncated safetensors": (_truncate, "not a readable safetensors file"),
    "not safetensors": (lambda p: p.write_bytes(b"\x00\x01garbage" * 40), "not a readable safetensors file"),
    "size 7 on a size 11 world": (_size_mismatch, "size 7"),
}


@pytest.fixture(scope="module")
def broken_model_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Start every broken-model `assess` at once (each is mostly interpreter start-up)."""
    started = {}
    for case, (damage, _) in BROKEN_MODELS.items():
        folder = tmp_path_factory.mktemp("model")
        model = ActorCritic(PolicyConfig(size=11))
        path = save_model(
            model, folder / "m", "actor-critic", model.cfg, meta={"trained_on": "red-door/train"}
        )
        damage(path)
        args = [
            sys.executable,
            "-m",
            "mesalab",
            "assess",
            str(path),
            "--world",
            "red-door/deploy",
            "--episodes",
            "5",
        ]
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder, env=ENV
        )
        started[case] = process
    done = {}
    for case, process in started.items():
        stdout, stderr = process.communicate(timeout=300)
        done[case] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return done


@pytest.mark.parametrize("case", sorted(BROKEN_MODELS))
def test_broken_model_is_one_line_exit_2(case: str, broken_model_results) -> None:
    result = broken_model_results[case]
    assert_one_line_error(result, BROKEN_MODELS[case][1])
    assert result.stdout == ""


# ---- last: a second identical run ------------------------------------------------------------------


def test_the_same_run_again_makes_a_new_folder(quick_run, tmp_path: Path) -> None:
    _, root, first = quick_run
    before = {p.relative_to(first): p.read_bytes() for p in first.rglob("*") if p.is_file()}
    result = mesalab(*RUN, "--out", str(root), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    second = run_folder(result)
    assert second.resolve() != first.resolve()
    assert (second / "results.json").is_file()
    assert sorted(p.name for p in root.iterdir()) == sorted([first.name, second.name])
    after = {p.relative_to(first): p.read_bytes() for p in first.rglob("*") if p.is_file()}
    assert after == before  # the first run is untouched
