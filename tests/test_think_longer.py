"""The recurrent maze net, its supervised optimizer, the probes and the think-longer pipeline (issue 11).

Tiny budgets on one thread: a 12-channel net trained 200 steps on 7x7 mazes solves held-out
7x7 mazes; the pipeline runs end to end on a tiny config; bad input is one `error:` line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from cli_helpers import mesalab
from mesalab.envs.gridworld import GridWorld, get_distribution
from mesalab.envs.gridworld.oracle import MOVES, _shift, fill_rounds
from mesalab.errors import ConfigError, MesalabError
from mesalab.experiments.think_longer.config import ThinkLongerConfig
from mesalab.experiments.think_longer.evaluate import success_by_t
from mesalab.experiments.think_longer.run import contrast_recipe
from mesalab.hooks import attached_hook_count
from mesalab.models.io import load_model, save_model
from mesalab.models.recurrent import RecurrentConfig, RecurrentMazeNet, RecurrentPolicy, maze_of
from mesalab.seeding import seeded_init
from mesalab.shift import assess
from mesalab.store.metrics import MetricsLogger
from mesalab.train.maze_supervised import (
    Carried,
    CarryPool,
    MazeBatch,
    MazeSource,
    MazeSupervisedConfig,
    Selection,
    cells_right,
    copy_weights,
    train,
)

TINY = MazeSupervisedConfig(
    sizes=(7,), steps=200, batch_size=16, learning_rate=1e-2, num_layouts=256, checkpoint_every=0
)


def small_net(width: int = 8, hooked: int = 4, **knobs: object) -> RecurrentMazeNet:
    with seeded_init(0, "test"):
        return RecurrentMazeNet(RecurrentConfig(width=width, hooked_iterations=hooked, **knobs))  # type: ignore[arg-type]


def mazes(size: int, count: int = 3) -> torch.Tensor:
    return MazeSource("red-door/train", count, 0, 64).batch(size, 0).maze


KNOBS = [{}, {"gate_kernel": 1, "gate_sees_candidate": True}, {"gate_kernel": 1, "cell_hidden": 6}]
"""Nets of every kind of recurrence: the default, a gate that reads the candidate, a per-cell hidden layer."""


@pytest.fixture(scope="module")
def trained() -> RecurrentMazeNet:
    with seeded_init(0, "init"):
        net = RecurrentMazeNet(RecurrentConfig(width=12))
    train(TINY, net, progress=False)
    return net


@pytest.mark.parametrize("knobs", KNOBS)
def test_every_parameter_is_trainable_and_gets_a_gradient(knobs: dict) -> None:
    net = small_net(**knobs)
    batch = MazeSource("red-door/train", 4, 0, 64).batch(7, 0)
    logits, value = net.run(batch.maze, iterations=6)
    (logits.square().mean() + value.mean()).backward()
    for name, param in net.named_parameters():
        assert param.requires_grad, name
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_hook_names_are_pinned() -> None:
    net = small_net(hooked=2)
    assert net.hook_names() == [
        "iters.0.hook_hidden",
        "iters.0.hook_state",
        "iters.0.hook_logits",
        "iters.1.hook_hidden",
        "iters.1.hook_state",
        "iters.1.hook_logits",
        "hook_logits",
        "hook_value",
    ]


def test_iterations_are_honoured_and_shapes_follow_the_maze() -> None:
    net = small_net(hooked=64)
    for size in (5, 9, 13):
        maze = mazes(size, 2)
        for steps in (1, 3, 7):
            logits, cache = net.run_with_cache(maze, iterations=steps)
            assert logits.shape == (2, 4, size, size)
            hidden = sorted(k for k in cache if k.endswith("hook_hidden"))
            assert len(hidden) == steps
            assert cache["iters.0.hook_hidden"].shape == (2, 8, size, size)
            assert cache["iters.0.hook_state"].shape == (2, size, size)
            assert cache[f"iters.{steps - 1}.hook_logits"].shape == (2, 4, size, size)
            torch.testing.assert_close(cache[f"iters.{steps - 1}.hook_logits"], logits)
    maze = mazes(9, 2)
    assert not torch.allclose(net(maze, iterations=2), net(maze, iterations=9))
    maps = net.maps_at(maze, [2, 9])
    torch.testing.assert_close(maps[9], net(maze, iterations=9))
    torch.testing.assert_close(maps[2], net(maze, iterations=2))
    assert attached_hook_count(net) == 0


def test_state_stays_bounded_however_long_it_runs() -> None:
    net = small_net(hooked=300)
    with torch.no_grad():
        _, cache = net.run_with_cache(mazes(9), iterations=300, names_filter="iters.299.hook_hidden")
    assert cache["iters.299.hook_hidden"].abs().max() <= 1.0


@pytest.mark.parametrize(
    "gate_kernel, sees_candidate, cell_hidden, arrives",
    [(1, False, 0, 6), (3, False, 0, 4), (1, True, 0, 6), (1, False, 5, 6), (3, False, 5, 4)],
)
def test_news_crosses_as_many_cells_an_iteration_as_the_gate_kernel_allows(
    gate_kernel: int, sees_candidate: bool, cell_hidden: int, arrives: int
) -> None:
    """A wall put 6 cells away reaches a cell's state at iteration 6 with 1x1 gates (the state after
    t iterations sees the maze t cells around: a breadth-first pace), at iteration 4 with 3x3 gates
    (2t - 1 cells: r, then the candidate, each reach a cell further); a 1x1 gate that reads the
    candidate, or a per-cell hidden layer in the candidate, keeps the pace."""
    cfg = RecurrentConfig(
        width=8,
        gate_kernel=gate_kernel,
        gate_sees_candidate=sees_candidate,
        cell_hidden=cell_hidden,
        hooked_iterations=0,
    )
    with seeded_init(0, "test"):
        net = RecurrentMazeNet(cfg)
    maze = torch.zeros(1, 7, 15, 15)
    moved = maze.clone()
    moved[0, 0, 7, 13] = 1.0  # a wall 6 cells right of the centre (7, 7)
    with torch.no_grad():
        injected = [net.encode(m) for m in (maze, moved)]
        before = [net.iterate(net.initial_state(x), x, 0, arrives - 1) for x in injected]
        after = [net.iterate(h, x, arrives - 1, 1) for h, x in zip(before, injected, strict=True)]
    assert torch.equal(before[0][0, :, 7, 7], before[1][0, :, 7, 7])
    assert not torch.equal(after[0][0, :, 7, 7], after[1][0, :, 7, 7])


def test_gate_kernel_is_checked() -> None:
    with pytest.raises(ConfigError, match="gate_kernel"):
        RecurrentConfig(gate_kernel=5)
    assert RecurrentConfig().stable_hash() == RecurrentConfig(gate_kernel=3).stable_hash()
    assert RecurrentConfig().stable_hash() != RecurrentConfig(gate_kernel=1).stable_hash()
    with pytest.raises(ConfigError, match="cell_hidden"):
        RecurrentConfig(cell_hidden=-1)
    assert RecurrentConfig().stable_hash() == RecurrentConfig(cell_hidden=0).stable_hash()
    assert RecurrentConfig().stable_hash() != RecurrentConfig(cell_hidden=8).stable_hash()


@pytest.mark.parametrize("steps", [0, -3])
def test_non_positive_iterations_are_refused(steps: int) -> None:
    with pytest.raises(ConfigError, match="iterations"):
        small_net()(mazes(7), iterations=steps)


def test_wrong_input_is_refused() -> None:
    with pytest.raises(MesalabError, match="expected"):
        small_net()(torch.zeros(1, 8, 7, 7))


def test_policy_computes_the_map_once_per_maze(tmp_path: Path, monkeypatch) -> None:
    net = small_net()
    policy = RecurrentPolicy(net, iterations=5)
    passes: list[int] = []
    run = net.run

    def counted(maze: torch.Tensor, iterations: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        passes.append(maze.shape[0])
        return run(maze, iterations)

    monkeypatch.setattr(net, "run", counted)
    result = assess(policy, "red-door/train", episodes=6, seed=0)
    assert passes == [6]  # one pass for all six episodes, however many steps they took
    assert int(result.steps.sum()) > 6
    world = GridWorld(get_distribution("red-door/train"), 3, seed=1)
    obs = world.reset()
    expected = net(maze_of(obs), iterations=5)
    agent = world.state.agent
    logits = policy(obs)
    torch.testing.assert_close(logits, expected.flatten(2)[torch.arange(3), :, agent])
    changed = obs.clone()
    changed[1] = world.obs[0]  # world 1 now shows world 0's maze: only that row is recomputed
    policy(changed)
    assert passes[-1] == 1
    # a hook inside the net sees every pass (never a cached map); a mode change empties the cache
    seen: list[int] = []
    with net.hooks([("hook_logits", lambda x, hook: seen.append(x.shape[0]))]):
        policy(changed)
    assert seen == [3]
    policy.train()
    policy.eval()
    calls = len(passes)
    policy(changed)
    assert passes[calls:] == [3]


@pytest.mark.parametrize("knobs", KNOBS)
def test_save_and_load_round_trip(tmp_path: Path, knobs: dict) -> None:
    net = small_net(**knobs)
    save_model(net, tmp_path / "net", "recurrent", net.cfg)
    loaded, meta = load_model(tmp_path / "net.safetensors")
    assert meta["kind"] == "recurrent" and isinstance(loaded, RecurrentMazeNet)
    maze = mazes(11)
    torch.testing.assert_close(loaded(maze, iterations=4), net(maze, iterations=4))


def test_tiny_training_solves_7x7_mazes(trained: RecurrentMazeNet) -> None:
    result, _ = success_by_t(trained, 7, [7, 14], episodes=100, layout_seed=1000)
    assert result.rate(14) >= 0.95, result.success


@pytest.mark.parametrize(
    "knobs",
    [
        {},
        {"lr_schedule": "cosine", "ema_decay": 0.9, "prefix_per_side": 2.0, "progressive": 1.0},
        {"carry_fraction": 0.6, "carry_pool": 2, "progressive": 0.0},
        {
            "carry_fraction": 0.6,
            "carry_pool": 2,
            "carry_mismatch": 0.5,
            "blind_fraction": 0.5,
            "reach_only": True,
        },
    ],
    ids=["default", "cosine-ema-prefix", "carry", "mismatch-blind-reach"],
)
def test_training_resumes_bit_for_bit(tmp_path: Path, knobs: dict) -> None:
    cfg = TINY.replace(steps=6, checkpoint_every=3, sizes=(7, 9), batch_size=4, **knobs)
    straight = small_net()
    train(cfg, straight, progress=False)
    first = small_net()

    def stop_at_3(step: int) -> None:
        if step == 3:
            raise _Stop

    with MetricsLogger(tmp_path / "m.jsonl") as log, pytest.raises(_Stop):  # killed after a checkpoint
        train(cfg, first, log, checkpoint_dir=tmp_path / "ck", progress=False, on_step=stop_at_3)
    resumed = small_net(width=8)
    train(cfg, resumed, checkpoint_dir=tmp_path / "ck", resume=True, progress=False)
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_weight_average_cosine_steps_and_long_prefixes_do_what_they_say() -> None:
    cfg = TINY.replace(
        steps=8, batch_size=4, sizes=(7,), lr_schedule="cosine", prefix_per_side=3.0, progressive=1.0,
        log_every=1,
    )  # fmt: skip
    assert cfg.lr_at(0) == cfg.learning_rate and cfg.lr_at(4) == pytest.approx(cfg.learning_rate / 2)
    assert cfg.training_t == 14 + 21  # T up to 2 x 7, after a no-gradient prefix of up to 3 x 7
    net, raw = small_net(), []
    average = copy_weights(net)
    log = MetricsLogger(None)
    train(cfg, net, log, progress=False, on_step=lambda step: raw.append(copy_weights(net)))
    rows = log.history
    assert [r["charts/lr"] for r in rows] == [cfg.lr_at(k) for k in range(8)]
    assert max(r["charts/iterations"] for r in rows) > 14  # some batch ran past T's range
    assert all(7 <= r["charts/iterations"] <= cfg.training_t for r in rows)
    # the average does not change training; on_step sees it and the net leaves with it
    averaged, seen = small_net(), []
    train(
        cfg.replace(ema_decay=0.8),
        averaged,
        progress=False,
        on_step=lambda step: seen.append(copy_weights(averaged)),
    )
    for step, weights in enumerate(raw, 1):
        keep = min(0.8, (1 + step) / (10 + step))
        average = {k: v.lerp(weights[k], 1 - keep) for k, v in average.items()}
        for key, value in seen[step - 1].items():
            assert torch.allclose(value, average[key], atol=1e-6), (step, key)
    for key, value in averaged.state_dict().items():
        assert torch.equal(value, seen[-1][key]), key
    assert not torch.equal(averaged.policy_head.weight, raw[-1]["policy_head.weight"])


class _Stop(Exception):
    pass


def test_carried_batches_go_on_from_their_last_state_and_no_pass_runs_past_t() -> None:
    cfg = TINY.replace(steps=12, batch_size=2, sizes=(7,), carry_fraction=0.7, carry_pool=2, log_every=1)
    log = MetricsLogger(None)
    train(cfg, small_net(), log, progress=False)
    rows = log.history
    assert all(r["charts/iterations"] <= cfg.training_t == 14 for r in rows)
    carried = [r for r in rows if r["charts/carried_iterations"] > r["charts/iterations"]]
    assert carried and max(r["charts/carried_iterations"] for r in rows) > cfg.training_t
    # a carried state goes on from where it stopped: its count is an earlier step's plus this pass
    for i, row in enumerate(rows):
        before = {0} | {r["charts/carried_iterations"] for r in rows[:i]}
        assert row["charts/carried_iterations"] - row["charts/iterations"] in before, i


def test_a_cap_on_t_holds_for_big_sides_only_and_carried_states_go_past_it() -> None:
    cfg = TINY.replace(
        sizes=(7, 11), max_iterations=12, steps=8, batch_size=2, carry_fraction=0.7, log_every=1
    )
    assert cfg.iteration_range(7) == (7, 12) and cfg.iteration_range(11) == (11, 12)
    assert cfg.iteration_range(25) == (12, 12) and cfg.training_t == 12
    assert TINY.replace(sizes=(11,)).training_t == 22  # no cap: 2 x side
    log = MetricsLogger(None)
    train(cfg, small_net(), log, progress=False)
    rows = log.history
    assert all(r["charts/iterations"] <= 12 for r in rows)
    assert max(r["charts/carried_iterations"] for r in rows if r["charts/size"] == 11) > 12


GRADING = TINY.replace(steps=3, batch_size=4, sizes=(9,), min_per_side=0.5, max_per_side=0.5, progressive=0.0)
"""Three steps on 9x9 mazes at T = 4: most of a maze is farther from the exit than that."""


def _scrambled(cells_of: Callable[[MazeBatch], torch.Tensor]) -> Callable[[GridWorld], MazeBatch]:
    """The oracle's labeller with the moves of `cells_of(batch)` (which must not be empty) rotated."""
    import mesalab.train.maze_supervised as supervised

    true_label = supervised.label

    def label(world: GridWorld) -> MazeBatch:
        batch = true_label(world)
        cells = cells_of(batch)
        assert cells.any()
        good = torch.where(cells.unsqueeze(1), batch.good.roll(1, dims=1), batch.good)
        return MazeBatch(batch.maze, good, batch.labelled, batch.distance)

    return label


def _graded_weights(
    monkeypatch, labels: Callable[[GridWorld], MazeBatch] | None, **knobs: object
) -> list[torch.Tensor]:
    """The weights after training `GRADING` with `knobs`, labelled by `labels` (None: the oracle)."""
    import mesalab.train.maze_supervised as supervised

    net = small_net()
    with monkeypatch.context() as patch:
        if labels is not None:
            patch.setattr(supervised, "label", labels)
        train(GRADING.replace(**knobs), net, progress=False)  # type: ignore[arg-type]
    return list(copy_weights(net).values())


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_reach_only_grades_no_cell_beyond_the_iterations_run(monkeypatch) -> None:
    """With `reach_only`, training never reads the labels of cells farther from the exit than
    the iterations run: scrambling them leaves the trained weights unchanged; without it, not."""
    reach = GRADING.iteration_range(9)[1]
    far = _scrambled(lambda batch: (batch.distance > reach) & batch.labelled)

    def weights(reach_only: bool, labels, unreached_weight: float = 0.0) -> list[torch.Tensor]:
        return _graded_weights(monkeypatch, labels, reach_only=reach_only, unreached_weight=unreached_weight)

    honest, fooled = weights(True, None), weights(True, far)
    assert _same(honest, fooled)
    # holding back on the far cells reads their move maps, not their labels
    held, held_fooled = weights(True, None, 1.0), weights(True, far, 1.0)
    assert _same(held, held_fooled) and not _same(held, honest)
    honest, fooled = weights(False, None), weights(False, far)
    assert not _same(honest, fooled)


def test_decided_only_grades_what_a_wave_or_dead_end_filling_could_know(monkeypatch) -> None:
    """With `decided_only`, scrambling the labels of cells neither a wave from the exit nor
    dead-end filling could have decided within the iterations run leaves the weights unchanged;
    scrambling those only filling could decide changes them (`reach_only` would not read them)."""
    reach = GRADING.iteration_range(9)[1]

    def far(batch: MazeBatch) -> torch.Tensor:
        return (batch.distance > reach) & batch.labelled

    undecided = _scrambled(lambda batch: far(batch) & (fill_rounds(batch.distance) > reach))
    filled = _scrambled(lambda batch: far(batch) & (fill_rounds(batch.distance) <= reach))

    def weights(labels, **knobs: object) -> list[torch.Tensor]:
        return _graded_weights(monkeypatch, labels, **knobs)

    honest = weights(None, decided_only=True)
    assert _same(honest, weights(undecided, decided_only=True))
    assert not _same(honest, weights(filled, decided_only=True))
    assert _same(weights(None, reach_only=True), weights(filled, reach_only=True))
    # holding back reads the undecided cells' move maps, not their labels
    held = weights(None, decided_only=True, unreached_weight=1.0)
    assert _same(held, weights(undecided, decided_only=True, unreached_weight=1.0))
    assert not _same(held, honest)


def test_mismatched_carries_start_from_another_batchs_state_and_count_afresh() -> None:
    cfg = TINY.replace(carry_fraction=0.9, carry_pool=3, carry_mismatch=0.5)
    pool = CarryPool(cfg)
    for episode in range(3):
        pool.store(7, None, Carried(episode, False, torch.full((1, 2, 7, 7), float(episode)), 10 + episode))
    kinds = set()
    for k in range(60):
        drawn = pool.draw(7, k)
        if drawn is None:
            continue
        slot, carried = drawn
        assert carried.episode == pool.slots[7][slot].episode == slot
        state_of = int(carried.hidden[0, 0, 0, 0])
        if state_of == slot:  # its own state, its own count
            assert carried.depth == 10 + slot
            kinds.add("own")
        else:  # another batch's state: the count starts again
            assert carried.depth == 0
            kinds.add("other")
    assert kinds == {"own", "other"}
    # without mismatch, the draws are the same as before the knob existed
    plain = CarryPool(cfg.replace(carry_mismatch=0.0))
    plain.slots = pool.slots
    assert all((plain.draw(7, k) or (0, None))[1] in (None, *pool.slots[7]) for k in range(60))


def test_hidden_exit_prefixes_run_first_on_the_mazes_without_their_exit(
    monkeypatch,
) -> None:
    cfg = TINY.replace(
        steps=4, batch_size=2, sizes=(7,), blind_fraction=1.0, blind_per_side=2.0, log_every=1,
        min_per_side=1.0, max_per_side=1.0, progressive=0.0,
    )  # fmt: skip
    net, seen = small_net(), []
    encode = net.encode
    monkeypatch.setattr(net, "encode", lambda maze: seen.append(maze.clone()) or encode(maze))
    log = MetricsLogger(None)
    train(cfg, net, log, progress=False)
    rows = log.history
    assert all(1 <= r["charts/blind_iterations"] <= 14 and r["charts/iterations"] == 7 for r in rows)
    assert len({r["charts/blind_iterations"] for r in rows}) > 1
    source = MazeSource(cfg.distribution, cfg.batch_size, cfg.seed, cfg.num_layouts)
    for k in range(4):  # each step encodes its mazes, then the same mazes with the exit a floor cell
        batch = source.batch(7, k)
        whole, blind = seen[2 * k], seen[2 * k + 1]
        exit_cells = (batch.distance == 0).unsqueeze(1)
        assert torch.equal(whole, batch.maze)
        assert torch.equal(blind, batch.maze * ~exit_cells)
        assert bool(whole[:, 1:][exit_cells.expand(-1, 6, -1, -1)].any())  # the exit is a door


def test_selection_keeps_the_best_scored_weights_and_survives_an_interruption(tmp_path: Path) -> None:
    cfg = TINY.replace(
        steps=6, checkpoint_every=3, batch_size=4, select_size=9, select_every=2, select_mazes=4
    )
    net, seen = small_net(), {}

    def record(step: int) -> None:
        seen[step] = copy_weights(net)

    last = train(cfg, net, progress=False, on_step=record)
    selection, probe = Selection(cfg, torch.device("cpu")), small_net()
    scores = {}
    for step in (2, 4, 6):  # the scored steps: every 2nd and the last
        probe.load_state_dict(seen[step])
        scores[step] = min(cells_right(probe, selection.batch, selection.iterations).values())
    best = max(scores, key=lambda step: (scores[step], -step))  # the first of equal scores is kept
    assert last["select/best_step"] == best and last["select/best_score"] == scores[best], scores
    for key, value in net.state_dict().items():
        assert torch.equal(value, seen[best][key]), key

    def stop_at_3(step: int) -> None:
        if step == 3:
            raise _Stop

    with pytest.raises(_Stop):  # killed after the step-3 checkpoint, which holds step 2's best
        train(cfg, small_net(), checkpoint_dir=tmp_path / "ck", progress=False, on_step=stop_at_3)
    resumed = small_net()
    again = train(cfg, resumed, checkpoint_dir=tmp_path / "ck", resume=True, progress=False)
    assert again["select/best_step"] == best
    for key, value in net.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_fill_rounds_prune_dead_ends_inward() -> None:
    batch = MazeSource("red-door/train", 8, 0, 64).batch(9, 0)
    rounds = fill_rounds(batch.distance)
    floor = batch.distance < (1 << 20)
    assert bool((rounds[floor] < (1 << 20)).all())  # every floor cell is pruned or is the exit
    assert bool(((rounds == 0) == (batch.distance == 0)).all())
    # a cell is pruned one round after the last of its children (neighbours farther from the exit)
    latest_child = torch.zeros_like(rounds)
    for dr, dc in MOVES:
        child = _shift(batch.distance, dr, dc, fill=1 << 20) == batch.distance + 1
        latest_child = torch.maximum(latest_child, torch.where(child, _shift(rounds, dr, dc), 0))
    inner = floor & (batch.distance > 0)
    assert torch.equal(rounds[inner], latest_child[inner] + 1)


def test_the_contrast_trains_the_main_recipe_without_what_serves_running_longer() -> None:
    cfg = ThinkLongerConfig(
        train=MazeSupervisedConfig(
            sizes=(9, 13, 17, 21),
            batch_size=16,
            prefix_per_side=8.0,
            select_size=31,
            ema_decay=0.99,
            blind_fraction=0.3,
        ),
        contrast_steps=123,
        contrast_sizes=(7, 11),
        contrast_batch_size=8,
    )
    contrast = contrast_recipe(cfg, cfg.train)
    assert (contrast.distribution, contrast.steps) == (cfg.contrast_distribution, 123)
    assert (contrast.sizes, contrast.batch_size) == ((7, 11), 8)
    assert contrast.prefix_per_side == 0 and contrast.select_size == 0 and contrast.blind_fraction == 0
    assert (
        contrast.replace(
            prefix_per_side=8.0,
            select_size=31,
            blind_fraction=0.3,
            steps=cfg.train.steps,
            distribution=cfg.train.distribution,
            sizes=cfg.train.sizes,
            batch_size=cfg.train.batch_size,
        )
        == cfg.train
    )


@pytest.mark.parametrize(
    ("config", "fields", "fragment"),
    [
        (ThinkLongerConfig, {"per_side": (0.0, 1.0)}, "per_side"),
        (ThinkLongerConfig, {"eval_grid": ((3, 10),)}, "odd and >= 5"),
        (ThinkLongerConfig, {"eval_grid": ((11, 21, 10),)}, "pairs"),
        (ThinkLongerConfig, {"probe_test_size": 8}, "probe_test_size"),
        (ThinkLongerConfig, {"contrast_sizes": (10,)}, "contrast_sizes"),
        (ThinkLongerConfig, {"contrast_batch_size": 0}, "contrast_batch_size"),
        (MazeSupervisedConfig, {"ema_decay": 1.0}, "ema_decay"),
        (MazeSupervisedConfig, {"lr_schedule": "linear"}, "lr_schedule"),
        (MazeSupervisedConfig, {"prefix_per_side": -1.0}, "prefix_per_side"),
        (MazeSupervisedConfig, {"carry_fraction": 1.0}, "carry_fraction"),
        (MazeSupervisedConfig, {"carry_pool": 0}, "carry_pool"),
        (MazeSupervisedConfig, {"carry_mismatch": 1.5}, "carry_mismatch"),
        (MazeSupervisedConfig, {"blind_fraction": -0.1}, "blind_fraction"),
        (MazeSupervisedConfig, {"blind_per_side": 0.0}, "blind_per_side"),
        (MazeSupervisedConfig, {"unreached_weight": 0.5}, "needs reach_only"),
        (MazeSupervisedConfig, {"reach_only": True, "decided_only": True}, "set one"),
        (MazeSupervisedConfig, {"max_iterations": -1}, "max_iterations"),
    ],
)
def test_bad_config_is_refused(config: type, fields: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        config(**fields)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--set", "per_side=[0,2]"], "per_side"),
        (["--set", "eval_grid=[[3,10]]"], "odd and >= 5"),
        (["--set", "train.steps=0"], "steps"),
        (["--resume", "x", "--set", "seed=2"], "run 'x' not found"),
    ],
)
def test_cli_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, args: list[str], fragment: str, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    from mesalab.cli import main

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs"
    assert main(["run", "think-longer", "--quick", "--out", str(out), *args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert not any(tmp_path.iterdir())


def test_help_lists_the_fields_and_sets_reach_the_config(capsys, monkeypatch) -> None:
    import re

    from mesalab.cli import main
    from mesalab.cli.settings import flagship_config

    monkeypatch.setenv("COLUMNS", "200")
    assert main(["run", "think-longer", "--help"]) == 0
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", capsys.readouterr().out).split())
    assert "train.steps: int = 1600 (--quick: 600)" in text
    assert "train.ema_decay: float = 0.995 (--quick: 0.0)" in text
    assert "per_side: tuple[float, ...]" in text and "model.width:" in text and "shifts:" in text
    cfg = flagship_config("think-longer", True, ["train.steps=7", "per_side=[1,3]"], {"seed": 4})
    assert isinstance(cfg, ThinkLongerConfig)
    assert (cfg.train.steps, cfg.per_side, cfg.seed, cfg.model.width) == (7, (1.0, 3.0), 4, 16)


def test_cli_quick_end_to_end_on_a_tiny_budget(tmp_path: Path) -> None:
    tiny = [
        "train.steps=20", "contrast_steps=5", "eval_grid=[[9,8],[15,4]]",
        "per_side=[1,2]", "overthinking_episodes=4", "probe_fit_mazes=4", "probe_test_mazes=2",
        "curve_points=2", "curve_episodes=4", "shift_episodes=4",
        "train.select_size=9", "train.select_every=10",
    ]  # fmt: skip
    sets = [arg for field in tiny for arg in ("--set", field)]
    result = mesalab("run", "think-longer", "--quick", "--out", str(tmp_path), *sets, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "training_size_best:" in result.stdout
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results["grid"]["sizes"]) == {"9", "15"}
    # the training T joins the grid only above the training sizes (7, 9)
    assert str(results["grid"]["training_t"]) in results["grid"]["sizes"]["15"]["success"]
    assert [row["step"] for row in results["curve"]] == [10, 20]
    assert set(results["shift"]["arms"]) == {"narrow", "diverse"}
    assert "verdict" in results["shift"]["arms"]["narrow"]["red-door/deploy"]
    assert (run_dir / "models" / "narrow.safetensors").exists()
    html = (run_dir / "report.html").read_text()
    assert "Run longer" in html and "Catch it searching" in html and "data:image/png" in html
    assert "weights are its snapshot of step " in html  # the kept snapshot is named


def test_width_trial_is_a_registered_sweep_experiment(tmp_path: Path) -> None:
    from mesalab.experiments.think_longer.trial import ThinkWidthTrialConfig
    from mesalab.sweep.experiment import get_sweep_experiment, with_overrides

    exp = get_sweep_experiment("think-longer-width")
    cfg = with_overrides(
        exp.config,
        {"width": "4", "train.steps": "4", "train.sizes": "[7]", "eval_size": "9", "eval_episodes": "3"},
    )
    assert isinstance(cfg, ThinkWidthTrialConfig) and cfg.width == 4
    # the flagship's recipe and gates, not a recipe of the trial's own
    flagship = ThinkLongerConfig()
    assert exp.config.train == flagship.train and exp.config.model == flagship.model.replace(width=16)
    for bad, message in (
        ({"gate_kernel": "5"}, "gate_kernel: must be 1 or 3"),
        ({"width": "0"}, "width: must be >= 1"),
    ):
        with pytest.raises(ConfigError, match=message):
            with_overrides(exp.config, bad)
    out = exp.run(cfg, tmp_path)
    assert out["width"] == 4 and out["gate_kernel"] == 1 and 0.0 <= out["success_many"] <= 1.0
    assert set(out) >= {"success_few", "success_many", "gain", "probe_wavefront", "probe_dead_end_filling"}
    assert (tmp_path / "model.safetensors").exists()


def _agreement(net: RecurrentMazeNet, maze: torch.Tensor, goal: torch.Tensor) -> float:
    """Share of floor cells (not the goal) whose greedy move is on a shortest path to `goal` `(B, H, W)`."""
    from mesalab.envs.gridworld.oracle import grid_distances, optimal_actions

    walls = maze[:, 0] > 0.5
    good = optimal_actions(walls, grid_distances(~walls, goal))  # (B, 4, H, W)
    labelled = good.any(1)
    with torch.no_grad():
        moves = net(maze, iterations=14).argmax(1, keepdim=True)
    return float(good.gather(1, moves).squeeze(1)[labelled].float().mean())


def test_retargeting_the_action_map_follows_a_moved_or_added_goal(trained: RecurrentMazeNet) -> None:
    """Move the exit (its door and colour) to the floor cell farthest from it, or add a second
    exit there: the map heads for the new goal, as BFS to it does."""
    batch = MazeSource("red-door/train", 16, 0, 256, layout_seed=1000).batch(7, 0)
    door = batch.maze[:, 1] > 0.5  # (B, H, W)
    far = torch.where(batch.distance < (1 << 20), batch.distance, -1).flatten(1).argmax(1)
    new = torch.zeros_like(door).flatten(1)
    new[torch.arange(len(far)), far] = True
    new = new.view_as(door)
    colours = (
        batch.maze[:, 3:]
        .flatten(2)
        .gather(2, door.flatten(1).float().argmax(1)[:, None, None].expand(-1, 4, 1))
    )
    moved = batch.maze.clone()
    moved[:, 1:].masked_fill_(door[:, None], 0.0)  # the old exit is floor now
    added = batch.maze.clone()
    for maze in (moved, added):
        maze[:, 1] = torch.where(new, 1.0, maze[:, 1])
        maze[:, 3:] = torch.where(new[:, None], colours[..., None], maze[:, 3:])
    assert _agreement(trained, batch.maze, door) >= 0.95
    assert _agreement(trained, moved, new) >= 0.95  # the map follows the goal it was moved to
    assert _agreement(trained, moved, door) <= 0.7  # and no longer the old one
    assert _agreement(trained, added, door | new) >= 0.95  # with two exits, the nearer one


def test_the_report_says_in_words_whether_a_decoded_front_moves() -> None:
    from mesalab.experiments.think_longer.report import _pace_sentence, _slope

    ts, truth = [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]
    moving, still = _slope(ts, [1, 2, 3, 4, 5], truth), _slope(ts, [3, 3, 3, 2, 3], truth)
    assert "moves out from the exit at 1.00 cells" in _pace_sentence(moving)
    assert "does not move out from the exit" in _pace_sentence(still) and "-0.10" in _pace_sentence(still)
    assert "too soon" in _pace_sentence(_slope(ts, [1, 2, 3, 4, 5], [5, 5, 5, 5, 5]))


def test_the_report_names_the_recurrence_knobs_that_are_on() -> None:
    from mesalab.experiments.think_longer.report import _net_words

    assert _net_words(RecurrentConfig(gate_kernel=1)) == "width 24, 1x1 gates"
    both = _net_words(RecurrentConfig(width=16, gate_sees_candidate=True, cell_hidden=48))
    assert both == (
        "width 16, 3x3 gates, an update gate that reads the candidate, "
        "a 48-channel hidden layer per cell in the candidate"
    )


def test_the_report_names_the_grading_knobs_that_are_on() -> None:
    from mesalab.experiments.think_longer.report import _recipe_extras

    train = MazeSupervisedConfig(carry_fraction=0.6, carry_mismatch=0.3, reach_only=True)
    words = _recipe_extras(train, [{"tag": "narrow", "charts/carried_deepest": 300}])
    assert "up to 300 iterations, 30% of them from another batch's state" in words
    assert "only the cells a wave from the exit could have decided by then graded" in words
    decided = _recipe_extras(MazeSupervisedConfig(decided_only=True, unreached_weight=0.5), [])
    assert "a wave from the exit or dead-end filling" in decided
    assert "pulled to uniform (weight 0.5)" in decided
    assert "graded" not in _recipe_extras(MazeSupervisedConfig(), [])
