"""`mesalab worlds ...` as a subprocess: listing, diff, show (ASCII and PNG), and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mesalab.envs.gridworld import DESCRIPTIONS, DISTRIBUTIONS, GridWorld, get_distribution
from mesalab.envs.gridworld.render import render_ascii

ENV = {**os.environ, "MESALAB_THREADS": "1"}


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mesalab", "worlds", *args]


def mesalab_worlds(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_command(*args), capture_output=True, text=True, cwd=cwd, env=ENV, timeout=120)


def test_list_names_every_distribution_with_its_description(tmp_path: Path) -> None:
    result = mesalab_worlds(cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0].split() == ["distribution", "description"]
    assert len(lines[2:]) == len(DISTRIBUTIONS.names())
    for name, line in zip(DISTRIBUTIONS.names(), lines[2:], strict=True):
        assert line.startswith(name) and line.endswith(DESCRIPTIONS[name])
    listed = mesalab_worlds("list", cwd=tmp_path)  # `worlds list` is the same listing
    assert listed.returncode == 0 and listed.stdout == result.stdout, listed.stderr


def test_diff_prints_the_fields_that_differ(tmp_path: Path) -> None:
    result = mesalab_worlds("diff", "red-door/train", "red-door/deploy", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["field", "red-door/train", "red-door/deploy"]
    table = {row[0]: row[1:] for row in rows[2:]}
    expected = get_distribution("red-door/train").diff(get_distribution("red-door/deploy"))
    assert set(table) == {field for field, _, _ in expected}
    assert table["exit_colours"] == ["red", "blue"] and table["max_objects"] == ["0", "3"]
    same = mesalab_worlds("diff", "red-door/train", "red-door/train", cwd=tmp_path)
    assert same.returncode == 0 and "do not differ" in same.stdout


def test_show_prints_the_maze_and_writes_a_png(tmp_path: Path) -> None:
    from matplotlib import image as mpimg

    png = tmp_path / "maze.png"
    result = mesalab_worlds(
        "show", "red-door/deploy", "--seed", "3", "--index", "2", "--png", str(png), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    world = GridWorld(get_distribution("red-door/deploy"), 1, seed=3, world_ids=[2])
    world.reset()
    assert render_ascii(world.state, 0) in result.stdout, "world 2 of seed 3, as the library draws it"
    assert mpimg.imread(png).shape[:2] == (11 * 16, 11 * 16)

    pixels = tmp_path / "pixels.png"
    result = mesalab_worlds(
        "show", "red-door/train", "--obs", "pixels", "--batch", "2", "--png", str(pixels), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "(3, 55, 55) uint8" in result.stdout and result.stdout.count("legend:") == 2
    image = (mpimg.imread(pixels)[:, :, :3] * 255).round().astype(np.uint8)
    world = GridWorld(get_distribution("red-door/train"), 1, obs_mode="pixels")
    assert np.array_equal(image, world.reset()[0].permute(1, 2, 0).numpy()), "the agent's own pixels"


def test_show_accepts_spec_overrides(tmp_path: Path) -> None:
    result = mesalab_worlds(
        "show", "red-door/train", "--set", "size=7", "--set", "exit_colours=green", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    maze = [line for line in result.stdout.splitlines() if line and line[0] == "#"]
    assert len(maze) == 7 and all(len(line) == 7 for line in maze)
    assert "G" in "".join(maze) and "R" not in "".join(maze)


BAD_INPUT = {
    "unknown distribution": (["show", "red-door/nope"], "unknown distribution 'red-door/nope'"),
    "unknown colour": (
        ["show", "red-door/train", "--set", "exit_colours=purple"],
        "exit_colours: unknown value",
    ),
    "maze too small for its objects": (
        ["show", "red-door/deploy", "--set", "size=5"],
        "max_objects: maze too small for its objects",
    ),
    "non-positive size": (["show", "red-door/train", "--set", "size=0"], "size: must be odd and >= 5"),
    "batch size 0": (["show", "red-door/train", "--batch", "0"], "--batch: must be >= 1"),
    "negative seed": (["show", "red-door/train", "--seed", "-1"], "seed: must be >= 0"),
}
"""Run as subprocesses: exit code, one line on stderr, no traceback, no file."""

MORE_BAD_INPUT = {
    "unknown distribution in diff": (["diff", "red-door/train", "nope"], "unknown distribution 'nope'"),
    "unknown observation mode": (["show", "red-door/train", "--obs", "rgb"], "obs: unknown value 'rgb'"),
    "not a spec field": (
        ["show", "red-door/train", "--set", "colour=red"],
        "colour: not a field of WorldSpec",
    ),
    "override without a value": (["show", "red-door/train", "--set", "size"], "--set: expected FIELD=VALUE"),
}
"""Run in-process through the same entry point (`mesalab.cli.main`), to keep the suite fast."""


@pytest.fixture(scope="module")
def bad_input_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Run every bad-input command at once (each is mostly interpreter start-up), then collect."""
    started = {}
    for case, (args, _) in BAD_INPUT.items():
        folder = tmp_path_factory.mktemp("bad")
        png = folder / "never.png"
        process = subprocess.Popen(
            _command(*args, *(["--png", str(png)] if args[0] == "show" else [])),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=folder,
            env=ENV,
        )
        started[case] = (process, folder)
    results = {}
    for case, (process, folder) in started.items():
        stdout, stderr = process.communicate(timeout=120)
        results[case] = (
            subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr),
            folder,
        )
    return results


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case: str, bad_input_results) -> None:
    result, folder = bad_input_results[case]
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert BAD_INPUT[case][1] in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert list(folder.iterdir()) == [], "nothing written"


@pytest.mark.parametrize("case", sorted(MORE_BAD_INPUT))
def test_more_bad_input_in_process(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mesalab.cli import main

    args, message = MORE_BAD_INPUT[case]
    png = tmp_path / "never.png"
    assert main(["worlds", *args, *(["--png", str(png)] if args[0] == "show" else [])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not png.exists()
