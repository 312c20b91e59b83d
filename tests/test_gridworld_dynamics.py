"""Step dynamics and objectives on hand-written worlds."""

from __future__ import annotations

import pytest
import torch

from gridworld_helpers import SMALL, hand_world
from mesalab.envs.gridworld import COLOURS, OBJECTIVES, GridWorld, candidate_names
from mesalab.envs.gridworld.render import parse_ascii, render_ascii
from mesalab.errors import ConfigError

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3

MAZE = """
#######
#@..#R#
#.#.#.#
#.#...#
#.###b#
#r....#
#######
"""
"""Exit R (slot 0) 8 moves away; object b (slot 1, reading order) 7 away; object r (slot 2) 4 away."""

TO_EXIT = [RIGHT, RIGHT, DOWN, DOWN, RIGHT, RIGHT, UP, UP]
TO_RED_OBJECT = [DOWN, DOWN, DOWN, DOWN]
TO_BLUE_OBJECT = [RIGHT, RIGHT, DOWN, DOWN, RIGHT, RIGHT, DOWN]


def _run(world: GridWorld, actions: list[int]):
    out = None
    for action in actions:
        out = world.step(torch.tensor([action]))
        assert not (bool(out[2][0]) and bool(out[3][0])), "terminated and truncated never both"
    return out


def _objectives(world: GridWorld, info) -> dict[str, float]:
    return dict(zip(world.objective_names, info["objectives"][0].tolist(), strict=True))


def test_walls_block_and_steps_count() -> None:
    world, _ = hand_world(MAZE)
    start = int(world.state.agent[0])
    for action in (UP, LEFT):
        obs, reward, terminated, truncated, info = world.step(torch.tensor([action]))
        assert int(world.state.agent[0]) == start
        assert float(reward[0]) == 0.0 and not terminated[0] and not truncated[0]
    assert int(info["steps"][0]) == 2
    world.step(torch.tensor([RIGHT]))
    assert int(world.state.agent[0]) == start + 1
    assert obs[0, 1].flatten()[start + 1] == 1.0 and obs[0, 1].sum() == 1.0, "agent channel moved"


def test_reaching_the_exit_pays_the_base_objective() -> None:
    world, _ = hand_world(MAZE)
    _, reward, terminated, truncated, info = _run(world, TO_EXIT)
    assert float(reward[0]) == 1.0 and bool(terminated[0]) and not bool(truncated[0])
    assert int(info["reached"][0]) == 0
    assert COLOURS[int(info["reached_colour"][0])] == "red"
    paid = _objectives(world, info)
    expected = {"exit", "red", "any-target", "any-door"}
    assert paid == {name: float(name in expected) for name in candidate_names()}


def test_reaching_an_object_terminates_without_base_reward() -> None:
    world, _ = hand_world(MAZE)
    _, reward, terminated, _, info = _run(world, TO_RED_OBJECT)
    assert float(reward[0]) == 0.0 and bool(terminated[0])
    assert int(info["reached"][0]) == 2 and COLOURS[int(info["reached_colour"][0])] == "red"
    paid = _objectives(world, info)
    expected = {"red", "object", "nearest-object", "any-target"}
    assert paid == {name: float(name in expected) for name in candidate_names()}

    world, _ = hand_world(MAZE)
    _, _, _, _, info = _run(world, TO_BLUE_OBJECT)
    assert int(info["reached"][0]) == 1 and COLOURS[int(info["reached_colour"][0])] == "blue"
    paid = _objectives(world, info)
    assert paid == {name: float(name in {"blue", "object", "any-target"}) for name in candidate_names()}


def test_no_target_reached_means_no_reward_and_minus_one() -> None:
    world, _ = hand_world(MAZE)
    _, reward, terminated, _, info = _run(world, [RIGHT, DOWN])
    assert not bool(terminated[0]) and int(info["reached"][0]) == -1 and int(info["reached_colour"][0]) == -1
    assert float(info["objectives"].sum()) == 0.0 and float(reward[0]) == 0.0


def test_truncation_at_max_steps() -> None:
    world, _ = hand_world(MAZE)
    for step in range(1, SMALL.max_steps + 1):
        _, _, terminated, truncated, info = world.step(torch.tensor([UP]))
        assert not bool(terminated[0])
        assert bool(truncated[0]) == (step == SMALL.max_steps)
    assert int(info["steps"][0]) == SMALL.max_steps


def test_reaching_a_target_on_the_last_step_is_termination_not_truncation() -> None:
    world = GridWorld(SMALL, 1, autoreset=False)
    world.set_state(parse_ascii(MAZE, num_targets=SMALL.num_targets, steps=SMALL.max_steps - len(TO_EXIT)))
    _, reward, terminated, truncated, info = _run(world, TO_EXIT)
    assert int(info["steps"][0]) == SMALL.max_steps
    assert bool(terminated[0]) and not bool(truncated[0]) and float(reward[0]) == 1.0


def test_autoreset_returns_the_final_observation_and_starts_the_next_episode() -> None:
    world, first = hand_world(MAZE, autoreset=True)
    first = first.clone()
    before_last = None
    for k, action in enumerate(TO_EXIT):
        if k == len(TO_EXIT) - 1:
            before_last = world.obs.clone()
        obs, reward, terminated, _, info = world.step(torch.tensor([action]))
    assert bool(terminated[0]) and float(reward[0]) == 1.0
    assert info["final_index"].tolist() == [0]
    final = info["final_obs"][0]
    exit_cell = int(parse_ascii(MAZE).targets[0, 0])
    assert final[1].flatten()[exit_cell] == 1.0, "the final observation shows the agent on the exit"
    assert not torch.equal(final, before_last)
    assert int(world.episode[0]) == 1 and int(world.state.steps[0]) == 0
    assert not torch.equal(obs[0], final), "the returned observation is the next episode's first"


def test_set_state_validates_and_round_trips() -> None:
    world, obs = hand_world(MAZE)
    assert render_ascii(world.state, 0).splitlines()[:7] == MAZE.split()
    rebuilt = GridWorld(SMALL, 1)
    rebuilt.set_state(world.state)
    assert torch.equal(rebuilt.obs, obs)
    with pytest.raises(ConfigError, match=r"state\.size"):
        GridWorld(SMALL.replace(size=9), 1).set_state(world.state)
    with pytest.raises(ConfigError, match=r"^state: must hold 2 worlds"):
        GridWorld(SMALL, 2).set_state(world.state)


# ---- objectives on hand-written states -------------------------------------------------
STATES = {
    # two objects, both red; the nearer one (by maze distance from the start) is slot 2
    "two-red": ("#######\n#@..#B#\n#.#.#.#\n#.#...#\n#.###r#\n#r....#\n#######", "blue"),
    # one green object and a yellow exit
    "green": ("#######\n#@....#\n#.###.#\n#.#g#.#\n#.#.#.#\n#...#Y#\n#######", "yellow"),
}
EXPECTED_PAYS = {
    # objective -> {state: [slot 0 (exit), slot 1, slot 2]}
    "exit": {"two-red": [1, 0, 0], "green": [1, 0, 0]},
    "red": {"two-red": [0, 1, 1], "green": [0, 0, 0]},
    "blue": {"two-red": [1, 0, 0], "green": [0, 0, 0]},
    "green": {"two-red": [0, 0, 0], "green": [0, 1, 0]},
    "yellow": {"two-red": [0, 0, 0], "green": [1, 0, 0]},
    "object": {"two-red": [0, 1, 1], "green": [0, 1, 0]},
    "nearest-object": {"two-red": [0, 0, 1], "green": [0, 1, 0]},
    "any-target": {"two-red": [1, 1, 1], "green": [1, 1, 0]},
    "any-door": {"two-red": [1, 0, 0], "green": [1, 0, 0]},
}


def test_every_registered_objective_has_expectations() -> None:
    assert set(OBJECTIVES.names()) == set(EXPECTED_PAYS)


@pytest.mark.parametrize("objective", sorted(EXPECTED_PAYS))
@pytest.mark.parametrize("state_name", sorted(STATES))
def test_objective_pays_table(objective: str, state_name: str) -> None:
    state = parse_ascii(STATES[state_name][0], num_targets=3)
    assert COLOURS[int(state.colours[0, 0])] == STATES[state_name][1]
    got = OBJECTIVES[objective].targets(state)[0].int().tolist()
    assert got == EXPECTED_PAYS[objective][state_name]


@pytest.mark.parametrize("objective", sorted(EXPECTED_PAYS))
def test_objective_reward_is_paid_once_on_arrival(objective: str) -> None:
    before = parse_ascii(STATES["two-red"][0], num_targets=3)
    fn = OBJECTIVES[objective]
    for slot in range(3):
        after = before.clone()
        after.agent = before.targets[:, slot].clone()
        expected = float(EXPECTED_PAYS[objective]["two-red"][slot])
        assert float(fn(before, torch.tensor([0]), after)[0]) == expected
        # standing on the target again is not paid again
        assert float(fn(after, torch.tensor([0]), after)[0]) == 0.0
    assert float(fn(before, torch.tensor([0]), before)[0]) == 0.0


@pytest.mark.parametrize("obs_mode", ["symbolic", "pixels"])
def test_stepping_off_a_target_without_autoreset_redraws_it(obs_mode: str) -> None:
    """Without autoreset a finished world can keep stepping; the cell it leaves keeps its door."""
    world, start_obs = hand_world(MAZE, obs_mode=obs_mode)
    start_obs = start_obs.clone()
    _run(world, [*TO_EXIT, DOWN])  # onto the exit, then back off it
    reference = GridWorld(SMALL, 1, obs_mode=obs_mode)
    assert torch.equal(reference.set_state(world.state), world.obs)
    _run(world, [DOWN, LEFT, LEFT, UP, UP, LEFT, LEFT])  # back to the start, by the reverse path
    assert torch.equal(world.obs, start_obs)


def test_set_state_then_autoreset_draws_the_next_episode() -> None:
    state = parse_ascii(MAZE, num_targets=SMALL.num_targets)
    state.start_dist = state.start_dist.long()  # a hand-built state need not match dtypes
    world = GridWorld(SMALL, 1, seed=0)
    world.set_state(state)
    _, _, terminated, _, info = _run(world, TO_EXIT)
    assert bool(terminated[0]) and info["final_index"].tolist() == [0]
    assert int(world.episode[0]) == 1 and world.state.start_dist.dtype == torch.int32
