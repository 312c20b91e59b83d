"""Rendering: ASCII notation, RGB pictures with trajectory overlays, PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mesalab.envs.gridworld import GridWorld, get_distribution
from mesalab.envs.gridworld.render import (
    ASCII_LEGEND,
    RGB,
    TRAJECTORY_COLOURS,
    parse_ascii,
    render_ascii,
    render_rgb,
    save_png,
)

PICTURE = "#######\n#@..#R#\n#.#.#.#\n#.#...#\n#.###b#\n#y....#\n#######"


def test_ascii_marks_every_kind_of_cell() -> None:
    world = GridWorld(get_distribution("red-door/deploy"), 3, seed=1)
    world.reset()
    for i in range(3):
        lines = render_ascii(world.state, i).splitlines()
        assert lines[-1] == ASCII_LEGEND and len(lines) == 12
        text = "".join(lines[:-1])
        assert text.count("@") == 1 and text.count("B") == 1, "deploy: one blue door"
        objects = int((world.state.targets[i, 1:] >= 0).sum())
        assert text.count("r") == objects and set(text) <= set("#.@Br")
        assert text.count("#") == int(world.state.walls[i].sum())


def test_parse_ascii_inverts_render_ascii() -> None:
    state = parse_ascii(PICTURE, num_targets=3)
    assert render_ascii(state, 0).splitlines()[:-1] == PICTURE.splitlines()
    assert state.targets.tolist() == [[12, 33, 36]] and state.colours.tolist() == [[0, 1, 3]]
    assert state.start_dist.tolist() == [[8, 7, 4]]
    with pytest.raises(ValueError, match="exactly one door"):
        parse_ascii(PICTURE.replace("R", "."))
    with pytest.raises(ValueError, match="unknown characters"):
        parse_ascii(PICTURE.replace("y", "x"))


def test_rgb_picture_shapes_and_colours() -> None:
    state = parse_ascii(PICTURE, num_targets=3)
    image = render_rgb(state, 0, cell_px=8)
    assert image.shape == (56, 56, 3) and image.dtype == np.uint8

    def cell(row: int, col: int) -> np.ndarray:
        return image[row * 8 : (row + 1) * 8, col * 8 : (col + 1) * 8].reshape(-1, 3)

    def has(block: np.ndarray, colour: str) -> int:
        return int((block == RGB[colour]).all(1).sum())

    assert has(cell(0, 0), "wall") == 64 and has(cell(1, 2), "floor") == 64
    door, red_pixels = cell(1, 5), has(cell(1, 5), "red")
    blue_object, yellow_object = has(cell(4, 5), "blue"), has(cell(5, 1), "yellow")
    assert red_pixels > 0 and blue_object > 0 and yellow_object > 0 and has(cell(1, 1), "agent") > 0
    assert red_pixels != blue_object, "a door and an object have different shapes"
    assert has(door, "floor") > 0, "shapes are drawn on the floor, not as solid squares"


def test_trajectories_are_drawn_in_their_colours() -> None:
    state = parse_ascii(PICTURE, num_targets=3)
    plain = render_rgb(state, 0)
    path_a = [8, 9, 10, 17, 24]  # right, right, down, down from the start
    path_b = [8, 15, 22, 29]  # down the left corridor
    image = render_rgb(state, 0, trajectories=[path_a, np.array(path_b)])
    assert image.shape == plain.shape and not np.array_equal(image, plain)
    for colour in TRAJECTORY_COLOURS[:2]:
        assert int((image == colour).all(2).sum()) > 20
    custom = render_rgb(state, 0, trajectories=[path_a], trajectory_colours=[(1, 2, 3)])
    assert int((custom == (1, 2, 3)).all(2).sum()) > 20
    untouched = render_rgb(state, 0, trajectories=[[]])
    assert np.array_equal(untouched, plain)
    with pytest.raises(ValueError, match="cell_px"):
        render_rgb(state, 0, cell_px=2)


def test_save_png_round_trips(tmp_path: Path) -> None:
    from matplotlib import image as mpimg

    state = parse_ascii(PICTURE, num_targets=3)
    image = render_rgb(state, 0, cell_px=6)
    path = save_png(image, tmp_path / "sub" / "maze.png")
    assert path.exists()
    loaded = (mpimg.imread(path)[:, :, :3] * 255).round().astype(np.uint8)
    assert np.array_equal(loaded, image)
    with pytest.raises(ValueError, match="uint8"):
        save_png(image.astype(np.float32), tmp_path / "bad.png")
