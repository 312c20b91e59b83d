"""One command line: defaults in every help, one progress switch, one threads default, rich tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer

from cli_helpers import mesalab
from mesalab.cli import app

LONG_RUNNING = {
    ("audit",), ("assess",), ("zoo",), ("break",), ("sweep",), ("tune",),
    ("run", "red-door"), ("run", "icl-gd"), ("run", "emergence-red-door"), ("run", "emergence-icl"),
    ("run", "oversight"), ("run", "think-longer"),
}  # fmt: skip
"""Commands that run longer than a few seconds: each takes --progress/--no-progress."""


def _commands() -> list[tuple[tuple[str, ...], Any]]:
    out = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
        else:
            out.append((path, command))

    walk(typer.main.get_command(app), ())
    return out


def test_every_option_help_shows_its_default() -> None:
    missing = []
    for path, command in _commands():
        for param in command.params:
            if param.name == "help" or getattr(param, "hidden", False) or param.required:
                continue
            named = isinstance(param.show_default, str) or param.default not in (None, False, [])
            if param.default == 0 and param.default is not False:
                named = True  # 0 is a value typer prints
            if not named and "default" not in (param.help or "").lower():
                missing.append(f"{' '.join(path)} {param.opts[0]}")
    assert not missing, missing


def test_long_commands_share_one_progress_switch_and_one_threads_default() -> None:
    commands = dict(_commands())
    for path in LONG_RUNNING:
        opts = {o for p in commands[path].params for o in (*p.opts, *p.secondary_opts)}
        assert {"--progress", "--no-progress"} <= opts, path
    for path, command in commands.items():
        for p in command.params:
            if "--threads" in p.opts:  # the process's threads, or (sweep, tune) each trial's: 1 unless set
                assert p.show_default == "$MESALAB_THREADS, else 1" or p.default == 1, path


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_runs_is_a_table_with_a_header_and_counts_an_unfinished_sweep(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    meta = {"experiment": "tiny", "config": {}, "config_hash": "h", "created": "2026-01-01T00:00:00"}
    _write(root / "solo" / "config.json", meta)
    _write(root / "solo" / "results.json", {"x": 1})
    for trial in ("t000", "t001"):  # a sweep killed before it wrote sweep.json
        _write(root / "half" / trial / "config.json", meta)
        _write(root / "half" / trial / "trial.json", {"trial_id": trial})
    _write(root / "half" / "t000" / "results.json", {"x": 1})
    result = mesalab("runs", "--root", str(root), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["run", "kind", "experiment", "state", "created"]
    rows = {line.split()[0]: line for line in lines[2:] if line.strip()}
    assert set(rows) == {"solo", "half"}
    assert "finished" in rows["solo"].split() and "run" in rows["solo"].split()
    assert "unfinished (1/2 trials), no sweep.json" in rows["half"]


def test_show_prints_any_experiments_results_as_tables(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    _write(root / "r" / "config.json", {"experiment": "icl-gd", "config": {}, "created": "2026"})
    results = {
        "experiment": "icl-gd",
        "models": {"lsa-1": {"loss": 0.25, "versus": {"gd-1": {"cosine": 0.99}}}},
        "shifts": [{"distribution": "icl/train", "loss": 1.5}, {"distribution": "icl/noisy", "loss": 2.5}],
        "seconds": 3.0,
    }
    _write(root / "r" / "results.json", results)
    result = mesalab("show", "r", "--root", str(root), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "{" not in text and "}" not in text and "…" not in text
    assert "versus.gd-1.cosine" in text and "0.99" in text
    assert "icl/noisy" in text and "2.5" in text and "seconds" in text


@pytest.mark.parametrize("args", [["worlds", "list"], ["worlds"]])
def test_worlds_list_is_the_listing(args: list[str], tmp_path: Path) -> None:
    result = mesalab(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "red-door/deploy" in result.stdout
