"""Supervised training of a recurrent maze net from the BFS oracle (a base optimizer).

Every floor cell of every maze is a labelled example: the moves on a shortest path from it
to the exit (`oracle.optimal_actions` over the exit's distance map). Mazes come from the
world's own layout generator for a named distribution, at the sizes in `sizes` in turn
(`WorldSpec.replace(size=...)`); batch k is episode k of every world, so the data of a
step depends only on `(seed, k)`. The iteration count T of batch k is drawn from
`[min_per_side * size, max_per_side * size]`, so the net is never rewarded for stopping at one
T; with probability `progressive`, the first n iterations (n uniform in [0, T - 1]) run
without gradient and the loss is taken after the remaining ones (Bansal et al. 2022's
incremental progress: from any state its own iterations reach, more iterations improve it).

Loss: minus the log of the probability the map gives to the set of optimal moves, averaged
over cells with one; plus `value_weight` times the squared error of the value head against
`gamma ** distance`. Checkpoints (weights, Adam state, step) resume bit for bit.

Optional, off by default here and on in think-longer's recipe: `prefix_per_side` puts the
no-gradient prefix (up to that many iterations per cell of side) before all T graded iterations
instead of inside T, so the net learns to hold its answer long after finding it;
`lr_schedule="cosine"` lowers the step size to 0; `ema_decay` keeps a moving average of the
weights, which is what is scored, selected and kept.
`carry_fraction` lets a batch carry on one of the last `carry_pool` fresh batches of its size
from the state its previous pass left (the sample pool of Mordvintsev et al. 2020's growing
cellular automata): the net is graded on states many passes deep, so it learns to hold its
answer long after finding it, while no single pass runs longer than T; `carry_mismatch` makes
some carried batches go on from another batch's state (beliefs about other mazes to overwrite).
`blind_fraction` runs some fresh batches first with their exit hidden (no gradient), so news of
the exit comes after the net has settled, as it does far from the exit of a big maze;
`reach_only` grades only cells a breadth-first wave from the exit could have reached by then, so
guessing the way ahead of the news earns nothing; `decided_only` also grades the cells dead-end
filling has removed by then (their way is known without the exit).

Snapshot selection (`select_size > 0`): every `select_every` steps the net is scored on
validation mazes of side `select_size`, bigger than the training sizes and from a layout seed
of their own, as the fraction of labelled cells whose argmax move is optimal, at the worst of
the T values `select_per_side x select_size` (so a net that loses its answer when run longer
scores low); training ends with the best-scoring weights. The score reads the move map only
(no rollout) and never touches the training data or random streams; the best weights and
score travel in the checkpoint, so a resumed run selects as an unbroken one does.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from tqdm import tqdm

from mesalab.config import Config, check, check_choice
from mesalab.envs.gridworld import BASE_OBJECTIVE, DISTRIBUTIONS, OBJECTIVES, GridWorld, get_distribution
from mesalab.envs.gridworld.oracle import UNREACHABLE, fill_rounds, goal_distance, optimal_actions
from mesalab.errors import MesalabError
from mesalab.models.recurrent import RecurrentMazeNet, maze_of
from mesalab.seeding import derive_seed, generator
from mesalab.store.metrics import MetricsLogger
from mesalab.store.runs import write_bytes_atomic


@dataclass(frozen=True)
class MazeSupervisedConfig(Config):
    """Supervised training of a recurrent maze net on oracle moves."""

    ADDED_FIELDS = (
        "alt_distribution",
        "alt_fraction",
        "select_size",
        "select_every",
        "select_mazes",
        "select_per_side",
        "select_layout_seed",
        "lr_schedule",
        "ema_decay",
        "prefix_per_side",
        "carry_fraction",
        "carry_pool",
        "reach_only",
        "carry_mismatch",
        "blind_fraction",
        "blind_per_side",
        "unreached_weight",
        "max_iterations",
        "decided_only",
    )
    """Left out of the hash at their defaults (`Config.ADDED_FIELDS`): older runs keep theirs."""

    distribution: str = "red-door/train"
    """Named distribution whose layout generator, colours and objects the mazes come from."""
    sizes: tuple[int, ...] = (9, 11, 13, 15)
    """Maze sides trained on, one per batch in turn (odd, >= 5)."""
    steps: int = 3000
    """Gradient steps."""
    batch_size: int = 32
    """Mazes per step."""
    learning_rate: float = 2e-3
    """Adam step size."""
    min_per_side: float = 1.0
    """Fewest iterations of a batch, per cell of maze side."""
    max_per_side: float = 2.0
    """Most iterations of a batch, per cell of maze side."""
    max_iterations: int = 0
    """Cap on a batch's T whatever its side (0: none): with a cap below `max_per_side x side`, a
    big maze's far cells get no news of the exit within one pass, only in a carried state's later
    passes (`carry_fraction`), as a far junction of a bigger maze at test time."""
    progressive: float = 0.5
    """Probability that a batch runs a random prefix of its iterations without gradient."""
    value_weight: float = 0.1
    """Weight of the value head's squared error (ignored without a value head)."""
    gamma: float = 0.9
    """The value head's target is `gamma ** distance to the exit`."""
    grad_clip: float = 1.0
    """Gradient norm clip."""
    num_layouts: int = 2048
    """Layouts per training size, each seen under 8 symmetries (evaluation uses another layout
    seed); generating a bank costs ~1 s per 256 layouts of 15x15 on 2 cores, once."""
    checkpoint_every: int = 200
    """Steps between resumable checkpoints (0: only at the end)."""
    log_every: int = 25
    """Steps between metric rows."""
    seed: int = 0
    """Seed of data order, iteration counts and the data worlds."""
    alt_distribution: str = ""
    """A second named distribution batches may come from (empty: none)."""
    alt_fraction: float = 0.0
    """Probability that a batch comes from `alt_distribution` (drawn from `(seed, step)`)."""
    select_size: int = 0
    """Side of the validation mazes the kept weights are chosen on (0: keep the last weights)."""
    select_every: int = 500
    """Steps between validation scores (the last step is always scored)."""
    select_mazes: int = 32
    """Validation mazes."""
    select_per_side: tuple[float, ...] = (2.0, 4.0)
    """T factors of the validation score: the worst cell accuracy over `factor x select_size`."""
    select_layout_seed: int = 2000
    """Layout seed of the validation mazes (training uses the distribution's, evaluation 1000)."""
    lr_schedule: str = "constant"
    """`constant`, or `cosine`: the step size falls from `learning_rate` to 0 along a half cosine."""
    ema_decay: float = 0.0
    """Decay of an exponential moving average of the weights (0: none); when set, the average
    is what is scored, selected and kept. The warm-up decay `(1 + k) / (10 + k)` after step k
    caps it until step (10 d - 1) / (1 - d): 0.995 only from step 1,790, so in a run of 1,600
    steps every decay above 0.9944 keeps the same weights (0.998 did, bit for bit)."""
    prefix_per_side: float = 0.0
    """With it > 0, a progressive batch's no-gradient prefix is drawn from [0, prefix_per_side x
    size] and followed by all T graded iterations (so the net is graded after up to
    (prefix_per_side + max_per_side) x side iterations); 0: the prefix is part of T."""
    carry_fraction: float = 0.0
    """Probability that a batch carries on a stored batch of its size from the state its last
    graded iterations left (no gradient through them) instead of fresh mazes from the zero state;
    states so reach many times T over training while no pass runs longer than T."""
    carry_pool: int = 8
    """Batches stored per size for carrying on; a fresh batch takes the oldest fresh one's place."""
    carry_mismatch: float = 0.0
    """Probability that a carried batch goes on from the state another stored batch of its size
    left, so the net starts from beliefs about other mazes (a false exit, false ways) and must
    overwrite them; its iteration count starts again from 0."""
    blind_fraction: float = 0.0
    """Probability that a fresh batch first runs a no-gradient prefix with its exit hidden (a
    plain floor cell), so the net settles on beliefs without the exit before news of it comes,
    as a cell far from the exit of a big maze does."""
    blind_per_side: float = 4.0
    """The hidden-exit prefix is drawn from [1, blind_per_side x size] iterations."""
    unreached_weight: float = 0.0
    """With `reach_only` or `decided_only`, weight of a cross-entropy to uniform on the labelled
    cells left ungraded (whose way no wave from the exit, nor with `decided_only` dead-end
    filling, could have told yet): the net is told to hold back, not only left ungraded, until
    the news comes."""
    reach_only: bool = False
    """Grade only the cells a breadth-first wave from the exit could have reached: those whose
    maze distance to the exit is at most the iterations the state has been through (a carried
    state's earlier passes included). Off: every labelled cell is graded, so the net is rewarded
    for guessing the way where no news from the exit can have arrived yet."""
    decided_only: bool = False
    """Grade only the cells whose way a correct one-cell-an-iteration algorithm could know by
    now: reached by a wave from the exit (as `reach_only`) or removed by dead-end filling (in a
    perfect maze a removed cell's one remaining neighbour is its way, exit seen or not). With
    `unreached_weight`, the rest (no algorithm could know their way yet) are pulled towards
    uniform: filling is allowed, guessing is not."""

    def validate(self) -> None:
        check(0 <= self.alt_fraction <= 1, "alt_fraction", f"must be in [0, 1], got {self.alt_fraction}")
        check(
            bool(self.alt_distribution) or self.alt_fraction == 0,
            "alt_fraction",
            "needs alt_distribution",
        )
        if self.alt_distribution:
            check_choice(self.alt_distribution, "alt_distribution", DISTRIBUTIONS.names())
        check(len(self.sizes) >= 1, "sizes", "must name at least one size", "9, 11, 13, ...")
        for size in self.sizes:
            check(size >= 5 and size % 2 == 1, "sizes", f"each must be odd and >= 5, got {size}")
        check(self.steps >= 1, "steps", f"must be >= 1, got {self.steps}")
        check(self.batch_size >= 1, "batch_size", f"must be >= 1, got {self.batch_size}")
        check(self.learning_rate > 0, "learning_rate", f"must be positive, got {self.learning_rate}")
        check(self.min_per_side > 0, "min_per_side", f"must be positive, got {self.min_per_side}")
        check(
            self.max_per_side >= self.min_per_side,
            "max_per_side",
            f"must be >= min_per_side ({self.min_per_side}), got {self.max_per_side}",
        )
        check(
            self.max_iterations >= 0, "max_iterations", f"must be >= 0 (0: no cap), got {self.max_iterations}"
        )
        check(0 <= self.progressive <= 1, "progressive", f"must be in [0, 1], got {self.progressive}")
        check(self.value_weight >= 0, "value_weight", f"must be >= 0, got {self.value_weight}")
        check(0 < self.gamma < 1, "gamma", f"must be in (0, 1), got {self.gamma}")
        check(self.num_layouts >= 1, "num_layouts", f"must be >= 1, got {self.num_layouts}")
        check(self.checkpoint_every >= 0, "checkpoint_every", f"must be >= 0, got {self.checkpoint_every}")
        check(self.log_every >= 1, "log_every", f"must be >= 1, got {self.log_every}")
        check(
            self.select_size == 0 or (self.select_size >= 5 and self.select_size % 2 == 1),
            "select_size",
            f"must be 0 (off) or odd and >= 5, got {self.select_size}",
        )
        check_choice(self.lr_schedule, "lr_schedule", ("constant", "cosine"))
        check(0 <= self.ema_decay < 1, "ema_decay", f"must be in [0, 1), got {self.ema_decay}")
        check(self.prefix_per_side >= 0, "prefix_per_side", f"must be >= 0, got {self.prefix_per_side}")
        check(0 <= self.carry_fraction < 1, "carry_fraction", f"must be in [0, 1), got {self.carry_fraction}")
        check(self.carry_pool >= 1, "carry_pool", f"must be >= 1, got {self.carry_pool}")
        check(
            0 <= self.carry_mismatch <= 1, "carry_mismatch", f"must be in [0, 1], got {self.carry_mismatch}"
        )
        check(
            0 <= self.blind_fraction <= 1, "blind_fraction", f"must be in [0, 1], got {self.blind_fraction}"
        )
        check(self.blind_per_side > 0, "blind_per_side", f"must be positive, got {self.blind_per_side}")
        check(self.unreached_weight >= 0, "unreached_weight", f"must be >= 0, got {self.unreached_weight}")
        check(
            self.reach_only or self.decided_only or not self.unreached_weight,
            "unreached_weight",
            "needs reach_only or decided_only",
        )
        check(not (self.reach_only and self.decided_only), "decided_only", "replaces reach_only: set one")
        check(self.select_every >= 1, "select_every", f"must be >= 1, got {self.select_every}")
        check(self.select_mazes >= 1, "select_mazes", f"must be >= 1, got {self.select_mazes}")
        check(
            len(self.select_per_side) >= 1 and all(f > 0 for f in self.select_per_side),
            "select_per_side",
            f"must give positive factors, got {self.select_per_side}",
        )

    def lr_at(self, step: int) -> float:
        """The step size of step `step` (0-based)."""
        if self.lr_schedule == "cosine":
            return self.learning_rate * 0.5 * (1 + math.cos(math.pi * step / self.steps))
        return self.learning_rate

    def iteration_range(self, size: int) -> tuple[int, int]:
        """The T range of a batch of side `size`."""
        low = max(1, math.ceil(self.min_per_side * size))
        high = max(low, math.floor(self.max_per_side * size))
        if self.max_iterations:
            return min(low, self.max_iterations), min(high, self.max_iterations)
        return low, high

    @property
    def training_t(self) -> int:
        """The largest T of one training pass from the zero state (a no-gradient prefix beyond T
        included; states carried on across steps reach further, see `carry_fraction`)."""
        return max(self.iteration_range(s)[1] + self.prefix_range(s) for s in self.sizes)

    def prefix_range(self, size: int) -> int:
        """The longest no-gradient prefix run before a batch's T graded iterations (0: within T)."""
        return math.ceil(self.prefix_per_side * size) if self.progressive and self.prefix_per_side else 0


@dataclass
class MazeBatch:
    """Mazes with their oracle labels."""

    maze: torch.Tensor
    """`(B, 7, H, W)` the net's input."""
    good: torch.Tensor
    """`(B, 4, H, W)` bool: moves on a shortest path to the exit."""
    labelled: torch.Tensor
    """`(B, H, W)` bool: cells with at least one optimal move (floor, not the exit)."""
    distance: torch.Tensor
    """`(B, H, W)` int32 maze distance to the exit (`UNREACHABLE` on walls)."""


class MazeSource:
    """Batches of oracle-labelled mazes of a named distribution, any size, any episode index."""

    def __init__(
        self, distribution: str, batch_size: int, seed: int, num_layouts: int, layout_seed: int | None = None
    ) -> None:
        self.base = get_distribution(distribution)
        self.distribution, self.batch_size, self.seed = distribution, batch_size, seed
        self.num_layouts, self.layout_seed = num_layouts, layout_seed
        self._worlds: dict[int, GridWorld] = {}

    def world(self, size: int) -> GridWorld:
        if size not in self._worlds:
            spec = self.base.replace(size=size, num_layouts=self.num_layouts)
            if self.layout_seed is not None:
                spec = spec.replace(layout_seed=self.layout_seed)
            world_seed = derive_seed(self.seed, "mazes", self.distribution, size) % (2**31)
            self._worlds[size] = GridWorld(spec, self.batch_size, seed=world_seed, autoreset=False)
        return self._worlds[size]

    def batch(self, size: int, episode: int) -> MazeBatch:
        """Episode `episode` of every world of side `size`, labelled."""
        world = self.world(size)
        world.episode.fill_(episode)
        world.reset_worlds(torch.arange(world.batch_size))
        return label(world)


def label(world: GridWorld) -> MazeBatch:
    """The current mazes of `world` with the oracle's moves towards the base objective's target."""
    state = world.state
    distance = goal_distance(state, OBJECTIVES[BASE_OBJECTIVE].targets(state))
    good = optimal_actions(state.grid(state.walls), distance)
    return MazeBatch(maze_of(world.obs), good, good.any(1), distance)


def move_loss(logits: torch.Tensor, batch: MazeBatch, graded: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of `-log P(an optimal move)` over the `graded` cells `(B, H, W)` bool (default: the
    labelled ones)."""
    log_probs = torch.log_softmax(logits, dim=1)
    good = log_probs.masked_fill(~batch.good, float("-inf")).logsumexp(1)  # (B, H, W)
    return -good[batch.labelled if graded is None else graded].mean()


def value_target(batch: MazeBatch, gamma: float) -> torch.Tensor:
    """`gamma ** distance` `(B, H, W)`, 0 where the exit is unreachable."""
    reachable = batch.distance < UNREACHABLE
    return torch.where(reachable, gamma ** batch.distance.clamp_max(10_000).float(), 0.0)


def map_accuracy(logits: torch.Tensor, batch: MazeBatch) -> tuple[float, float]:
    """(fraction of labelled cells whose argmax is optimal, fraction of mazes right everywhere)."""
    right = batch.good.gather(1, logits.argmax(1, keepdim=True)).squeeze(1) | ~batch.labelled
    return float(right[batch.labelled].float().mean()), float(right.flatten(1).all(1).float().mean())


def cells_right(net: RecurrentMazeNet, batch: MazeBatch, iterations: list[int]) -> dict[int, float]:
    """Fraction of labelled cells whose argmax move is optimal, after each T in `iterations`."""
    with torch.no_grad():
        maps = net.maps_at(batch.maze, iterations)
    return {t: map_accuracy(logits, batch)[0] for t, logits in maps.items()}


def copy_weights(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of the net's state dict."""
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


class Average:
    """An exponential moving average of a net's weights (`ema_decay`), updated after every step.

    After step k the decay is `min(ema_decay, (1 + k) / (10 + k))` (as TensorFlow's
    `ExponentialMovingAverage` with `num_updates`), so the initial weights fade within the
    first steps however long the average's memory."""

    def __init__(self, net: RecurrentMazeNet, decay: float) -> None:
        self.decay = decay
        self.weights = copy_weights(net)

    def update(self, net: RecurrentMazeNet, step: int) -> None:
        """Fold in the weights after step `step` (1-based)."""
        decay = min(self.decay, (1 + step) / (10 + step))
        for key, value in net.state_dict().items():
            if value.is_floating_point():
                self.weights[key].lerp_(value.detach(), 1 - decay)
            else:
                self.weights[key].copy_(value)

    @contextmanager
    def swapped_in(self, net: RecurrentMazeNet) -> Iterator[None]:
        """`with average.swapped_in(net):` the net holds the averaged weights inside the block."""
        saved = copy_weights(net)
        net.load_state_dict(self.weights)
        try:
            yield
        finally:
            net.load_state_dict(saved)


def kept_weights(net: RecurrentMazeNet, average: Average | None) -> AbstractContextManager[None]:
    """A block in which the net holds the weights training would keep now (the average if any)."""
    return average.swapped_in(net) if average is not None else nullcontext()


@dataclass
class Carried:
    """A stored batch: which mazes, the state its last pass left, and its iterations so far."""

    episode: int
    alt: bool
    hidden: torch.Tensor
    """`(B, C, H, W)` detached."""
    depth: int


class CarryPool:
    """Batches whose state later steps carry on (`carry_fraction`), up to `carry_pool` per size."""

    def __init__(self, cfg: MazeSupervisedConfig) -> None:
        self.cfg = cfg
        self.slots: dict[int, list[Carried]] = {}
        self.oldest: dict[int, int] = {}  # per size: the slot a fresh batch replaces next
        self.deepest = 0
        """The most iterations any stored state has been through."""

    def draw(self, size: int, k: int) -> tuple[int, Carried] | None:
        """The slot step `k` carries on and its batch, or None for fresh mazes (drawn from `(seed, k)`)."""
        slots = self.slots.get(size, [])
        gen = generator(self.cfg.seed, "carry", k)
        if not slots or float(torch.rand(1, generator=gen)) >= self.cfg.carry_fraction:
            return None
        slot = int(torch.randint(len(slots), (1,), generator=gen))
        if (
            self.cfg.carry_mismatch
            and len(slots) > 1
            and float(torch.rand(1, generator=gen)) < self.cfg.carry_mismatch
        ):
            other = (slot + 1 + int(torch.randint(len(slots) - 1, (1,), generator=gen))) % len(slots)
            entry = slots[slot]
            return slot, Carried(entry.episode, entry.alt, slots[other].hidden, 0)
        return slot, slots[slot]

    def store(self, size: int, slot: int | None, entry: Carried) -> None:
        """Put `entry` back in `slot`, or (fresh, `slot=None`) in a free or the oldest slot."""
        slots = self.slots.setdefault(size, [])
        self.deepest = max(self.deepest, entry.depth)
        if slot is None and len(slots) < self.cfg.carry_pool:
            slots.append(entry)
        elif slot is None:
            slot = self.oldest.get(size, 0)
            slots[slot] = entry
            self.oldest[size] = (slot + 1) % self.cfg.carry_pool
        else:
            slots[slot] = entry

    def tensors(self) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
        """The pool as checkpoint tensors and metadata."""
        tensors = {
            f"carry.{size}.{j}": entry.hidden
            for size, slots in self.slots.items()
            for j, entry in enumerate(slots)
        }
        meta = {str(size): [[e.episode, e.alt, e.depth] for e in slots] for size, slots in self.slots.items()}
        return tensors, {
            "carry": json.dumps(
                {"slots": meta, "oldest": self.oldest, "deepest": self.deepest}, sort_keys=True
            )
        }

    def restore(self, tensors: dict[str, torch.Tensor], header: dict[str, str], device: torch.device) -> None:
        """Undo `tensors()`."""
        if "carry" not in header:
            raise KeyError("the carried states (carry_fraction) are missing")
        meta = json.loads(header["carry"])
        self.slots = {
            int(size): [
                Carried(episode, alt, tensors[f"carry.{size}.{j}"].to(device), depth)
                for j, (episode, alt, depth) in enumerate(entries)
            ]
            for size, entries in meta["slots"].items()
        }
        self.oldest = {int(size): slot for size, slot in meta["oldest"].items()}
        self.deepest = int(meta["deepest"])


class Selection:
    """The best weights so far by their validation score (`select_size > 0`)."""

    def __init__(self, cfg: MazeSupervisedConfig, device: torch.device) -> None:
        source = MazeSource(
            cfg.distribution, cfg.select_mazes, cfg.seed, cfg.select_mazes, cfg.select_layout_seed
        )
        self.batch = _to(source.batch(cfg.select_size, 0), device)
        self.iterations = sorted({max(1, math.ceil(f * cfg.select_size)) for f in cfg.select_per_side})
        self.every, self.last = cfg.select_every, cfg.steps
        self.score, self.step = -1.0, 0
        self.weights: dict[str, torch.Tensor] | None = None

    def due(self, step: int) -> bool:
        return step % self.every == 0 or step == self.last

    def update(self, net: RecurrentMazeNet, step: int) -> float:
        """Score the net now; keep its weights when they beat the best so far."""
        score = min(cells_right(net, self.batch, self.iterations).values())
        if score > self.score:
            self.score, self.step = score, step
            self.weights = copy_weights(net)
        return score


def train(
    cfg: MazeSupervisedConfig,
    net: RecurrentMazeNet,
    logger: MetricsLogger | None = None,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    progress: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Train `net` in place; returns the last metrics. `on_step(k)` runs after step k, with the
    net holding the weights training would keep now (their average when `ema_decay` is set)."""
    device = next(net.parameters()).device
    source = MazeSource(cfg.distribution, cfg.batch_size, cfg.seed, cfg.num_layouts)
    alt = (
        MazeSource(cfg.alt_distribution, cfg.batch_size, cfg.seed, cfg.num_layouts)
        if cfg.alt_fraction
        else None
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    selection = Selection(cfg, device) if cfg.select_size else None
    average = Average(net, cfg.ema_decay) if cfg.ema_decay else None
    pool = CarryPool(cfg) if cfg.carry_fraction else None
    start = 0
    if resume and checkpoint_dir is not None and (checkpoint_dir / "checkpoint.safetensors").exists():
        start = load_training_state(checkpoint_dir, net, optimizer, selection, average, pool)
        if logger is not None:
            logger.truncate_after(start)
    net.train()
    last: dict[str, Any] = {}
    began = time.perf_counter()
    for k in tqdm(range(start, cfg.steps), desc="think", disable=not progress, leave=False, initial=start):
        size = cfg.sizes[k % len(cfg.sizes)]
        drawn = pool.draw(size, k) if pool is not None else None
        slot, carried = drawn if drawn is not None else (None, None)
        if carried is None:
            episode = k // len(cfg.sizes)
            from_alt = (
                alt is not None
                and float(torch.rand(1, generator=generator(cfg.seed, "alt", k))) < cfg.alt_fraction
            )
        else:
            episode, from_alt = carried.episode, carried.alt
        batch = _to((alt if from_alt and alt is not None else source).batch(size, episode), device)
        metrics, hidden = _update(cfg, net, optimizer, batch, size, k, carried)
        if pool is not None:
            depth = (carried.depth if carried else 0) + int(metrics["charts/iterations"])
            pool.store(size, slot, Carried(episode, from_alt, hidden, depth))
            metrics["charts/carried_iterations"] = depth
            metrics["charts/carried_deepest"] = pool.deepest
        if average is not None:
            average.update(net, k + 1)
        scored = selection is not None and selection.due(k + 1)
        if selection is not None and scored:
            with kept_weights(net, average):
                metrics["select/score"] = selection.update(net, k + 1)
        if scored or (k + 1) % cfg.log_every == 0 or k + 1 == cfg.steps:
            last = {**metrics, "charts/seconds": time.perf_counter() - began}
            if logger is not None:
                logger.log(k + 1, last)
        if checkpoint_dir is not None and cfg.checkpoint_every and (k + 1) % cfg.checkpoint_every == 0:
            save_training_state(checkpoint_dir, net, optimizer, k + 1, selection, average, pool)
        if on_step is not None:
            with kept_weights(net, average):
                on_step(k + 1)
    if checkpoint_dir is not None:
        save_training_state(checkpoint_dir, net, optimizer, cfg.steps, selection, average, pool)
    # the checkpoint above keeps the last raw weights; the net leaves with the kept ones
    if selection is not None and selection.weights is not None:
        net.load_state_dict(selection.weights)
        last = {**last, "select/best_score": selection.score, "select/best_step": selection.step}
    elif average is not None:
        net.load_state_dict(average.weights)
    net.eval()
    return last


def _update(
    cfg: MazeSupervisedConfig,
    net: RecurrentMazeNet,
    optimizer: torch.optim.Optimizer,
    batch: MazeBatch,
    size: int,
    k: int,
    carried: Carried | None = None,
) -> tuple[dict[str, float], torch.Tensor]:
    """One gradient step on `batch` from the zero state or a `carried` batch's state; T and the
    no-gradient prefix are drawn from `(seed, k)`. Returns the metrics and the last state."""
    gen = generator(cfg.seed, "maze-supervised", k)
    low, high = cfg.iteration_range(size)
    steps = int(torch.randint(low, high + 1, (1,), generator=gen))
    prefix, graded = 0, steps
    if float(torch.rand(1, generator=gen)) < cfg.progressive:
        if cfg.prefix_per_side:
            prefix = int(torch.randint(0, cfg.prefix_range(size) + 1, (1,), generator=gen))
        else:
            prefix = int(torch.randint(0, steps, (1,), generator=gen))
            graded = steps - prefix
    for group in optimizer.param_groups:
        group["lr"] = cfg.lr_at(k)
    injected = net.encode(batch.maze)
    hidden = net.initial_state(injected) if carried is None else carried.hidden
    blind = 0
    if carried is None and cfg.blind_fraction and float(torch.rand(1, generator=gen)) < cfg.blind_fraction:
        blind = int(torch.randint(1, max(1, math.ceil(cfg.blind_per_side * size)) + 1, (1,), generator=gen))
        no_exit = batch.maze * (batch.distance != 0).unsqueeze(1)  # the exit's cell all zeros: floor
        with torch.no_grad():
            hidden = net.iterate(hidden, net.encode(no_exit), 0, blind)
    if prefix:
        with torch.no_grad():
            hidden = net.iterate(hidden, injected.detach(), 0, prefix)
    hidden = net.iterate(hidden, injected, prefix, graded)
    logits = net.logits(hidden)
    graded_cells = batch.labelled
    if cfg.reach_only or cfg.decided_only:
        depth = carried.depth if carried is not None else 0  # iterations since the exit was seen
        known_at = (
            torch.minimum(batch.distance, fill_rounds(batch.distance)) if cfg.decided_only else batch.distance
        )
        graded_cells = graded_cells & (known_at <= depth + prefix + graded)
    loss = move_loss(logits, batch, graded_cells)
    metrics = {"losses/move": float(loss.detach())}
    unreached = batch.labelled & ~graded_cells if cfg.unreached_weight else None
    if unreached is not None and bool(unreached.any()):
        held_back = -torch.log_softmax(logits, dim=1).mean(1)[unreached].mean()  # CE to uniform
        loss = loss + cfg.unreached_weight * held_back
        metrics["losses/held_back"] = float(held_back.detach())
    if net.value_conv is not None and cfg.value_weight > 0:
        value_loss = ((net.value(hidden) - value_target(batch, cfg.gamma)) ** 2)[graded_cells].mean()
        loss = loss + cfg.value_weight * value_loss
        metrics["losses/value"] = float(value_loss.detach())
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
    optimizer.step()
    cells, mazes = map_accuracy(logits.detach(), batch)
    metrics.update({"charts/cell_accuracy": cells, "charts/maze_accuracy": mazes})
    metrics.update({"charts/size": size, "charts/iterations": prefix + graded, "charts/lr": cfg.lr_at(k)})
    if cfg.blind_fraction:
        metrics["charts/blind_iterations"] = blind
    return metrics, hidden.detach()


def _to(batch: MazeBatch, device: torch.device) -> MazeBatch:
    return MazeBatch(*(getattr(batch, f).to(device) for f in ("maze", "good", "labelled", "distance")))


# ---- checkpoints ----------------------------------------------------------------------------------


def save_training_state(
    folder: Path,
    net: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    selection: Selection | None = None,
    average: Average | None = None,
    pool: CarryPool | None = None,
) -> None:
    """`folder/checkpoint.safetensors`: weights, Adam state, the best weights so far (with
    selection), the weight average and the carried states (when used), and the step, Adam's
    param groups, the best score and the carried batches' bookkeeping in its metadata, so one
    atomic rename makes the whole checkpoint visible at once."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"net.{k}": v for k, v in net.state_dict().items()}
    optim = optimizer.state_dict()
    for index, entry in optim["state"].items():
        for key, value in entry.items():
            tensors[f"optim.{index}.{key}"] = torch.as_tensor(value)
    meta = {"param_groups": json.dumps(optim["param_groups"], sort_keys=True), "step": str(step)}
    if selection is not None and selection.weights is not None:
        tensors.update({f"best.{k}": v for k, v in selection.weights.items()})
        meta.update({"select_score": repr(selection.score), "select_step": str(selection.step)})
    if average is not None:
        tensors.update({f"ema.{k}": v for k, v in average.weights.items()})
    if pool is not None:
        carried, carry_meta = pool.tensors()
        tensors.update(carried)
        meta.update(carry_meta)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    write_bytes_atomic(folder / "checkpoint.safetensors", safetensors.torch.save(tensors, metadata=meta))
    (folder / "checkpoint.json").unlink(missing_ok=True)  # an older checkpoint's pair


def load_training_state(
    folder: Path,
    net: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    selection: Selection | None = None,
    average: Average | None = None,
    pool: CarryPool | None = None,
) -> int:
    """Restore what `save_training_state` wrote; returns the step to continue from."""
    try:
        path = folder / "checkpoint.safetensors"
        with safetensors.safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
        if "step" in header:
            meta = {"param_groups": json.loads(header["param_groups"]), "step": header["step"]}
        else:  # written before the counters moved into the file
            meta = json.loads((folder / "checkpoint.json").read_text(encoding="utf-8"))
        tensors = safetensors.torch.load_file(str(path))
        device = next(net.parameters()).device
        net.load_state_dict(_stored(tensors, "net.", device))
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, index, name = key.split(".", 2)
                state.setdefault(int(index), {})[name] = value.to(device) if name != "step" else value
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
        if selection is not None and "select_step" in header:
            selection.score, selection.step = float(header["select_score"]), int(header["select_step"])
            selection.weights = _stored(tensors, "best.", device)
        if average is not None:
            averaged = _stored(tensors, "ema.", device)
            if set(averaged) != set(average.weights):
                raise KeyError("the weight average (ema_decay) is missing")
            average.weights = averaged
        if pool is not None:
            pool.restore(tensors, header, device)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise MesalabError(
            f"{folder}: checkpoint unreadable ({type(exc).__name__}: {exc}); delete it"
        ) from None
    return int(meta["step"])


def _stored(tensors: dict[str, torch.Tensor], prefix: str, device: torch.device) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors under `prefix` (`net.`, `best.`, `ema.`), the prefix removed."""
    return {k[len(prefix) :]: v.to(device) for k, v in tensors.items() if k.startswith(prefix)}
