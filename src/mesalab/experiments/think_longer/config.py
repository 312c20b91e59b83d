"""The think-longer experiment's knobs: the net, its base optimizer, the evaluation grid."""

from __future__ import annotations

from dataclasses import dataclass, field

from mesalab.config import Config, check, check_choice
from mesalab.envs.gridworld.distributions import DISTRIBUTIONS
from mesalab.models.recurrent import RecurrentConfig
from mesalab.shift import VerdictConfig
from mesalab.train.maze_supervised import MazeSupervisedConfig


@dataclass(frozen=True)
class ThinkLongerConfig(Config):
    """Train a generic recurrent net on small mazes; run it longer on big ones; look inside; shift it."""

    model: RecurrentConfig = field(
        default_factory=lambda: RecurrentConfig(gate_kernel=1, gate_sees_candidate=True, cell_hidden=48)
    )
    """The recurrent net (width, value head, hooked iterations), with 1x1 gates: news crosses one
    cell an iteration, the pace of a breadth-first wave: after T iterations a cell's state has seen
    the maze only T cells around it (with 3x3 gates news crosses up to two cells an iteration, and
    more 63x63 mazes were solved within the training T); an update gate that also reads the
    candidate, so news can reopen a settled cell; and a 48-channel hidden layer per cell in the
    candidate. With the grading below, over eight seeds 63x63 rose from a mean of 79% to 91% at
    T=252 and from 22.5% to 20% at the training T (docs/think-longer.md)."""
    train: MazeSupervisedConfig = field(
        default_factory=lambda: MazeSupervisedConfig(
            sizes=(9, 13, 17, 21, 25),
            batch_size=10,
            steps=1600,
            min_per_side=2.0,
            max_per_side=2.0,
            progressive=0.0,
            carry_fraction=0.6,
            carry_mismatch=0.3,
            reach_only=True,
            lr_schedule="cosine",
            ema_decay=0.995,
        )
    )
    """The base optimizer of the main model (on `red-door/train` mazes of sides 9-25, 10 a step: the
    bigger ones carry it to 63x63, where sides 9-15 reached 55%): T = 2 x side, so no pass runs past
    50 iterations, less than most 63x63 mazes need; 60% of the batches carry on a stored batch from
    the state its last pass left, so the net must hold its answer hundreds of iterations after
    finding it (without that it drifts after ~250), 30% of those from another batch's state (beliefs
    about another maze to overwrite); only cells a wave from the exit could have reached are graded,
    so a guess ahead of the news earns nothing; a cosine step size and a moving average of the
    weights, which is what is kept: its snapshots do not swing as the raw weights' do
    (`train.select_size=31` keeps the snapshot that scores best on 31x31 validation mazes instead).
    docs/think-longer.md says why, with the figures."""
    contrast_distribution: str = "red-door/diverse"
    """Training distribution of the contrast model (empty: no contrast model)."""
    contrast_steps: int = 800
    """Gradient steps of the contrast model: the main recipe otherwise, on its own sides and batch,
    less any long prefix and snapshot selection (it is judged only as a policy on 11x11 mazes,
    never run longer). With 1x1 gates 400 steps left it at 71% on its own training mazes."""
    contrast_sizes: tuple[int, ...] = (9, 11, 13, 15)
    """Maze sides the contrast model trains on (small: it is only judged on 11x11 mazes)."""
    contrast_batch_size: int = 16
    """Mazes per step of the contrast model."""
    eval_grid: tuple[tuple[int, int], ...] = ((13, 200), (21, 200), (31, 100), (41, 60), (63, 40), (127, 8))
    """`(side, held-out mazes)` per evaluation size (odd sides >= 5; fewer mazes for big ones)."""
    per_side: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    """The T grid: T = factor x size for each factor (the training T is added on sizes above the
    training sizes)."""
    steps_per_side: int = 8
    """Rollout step limit per cell of maze side (8 x 63 = 504 steps, above every optimal path)."""
    overthinking_factor: int = 4
    """The overthinking check runs each size at this multiple of the T it needs."""
    overthinking_max_size: int = 63
    """Largest size the overthinking check runs on (its cost grows as size^3)."""
    overthinking_episodes: int = 30
    """Held-out mazes per size in the overthinking check."""
    eval_layout_seed: int = 1000
    """Layout seed of every held-out maze (training uses the distribution's, 0)."""
    probe_fit_size: int = 13
    """Maze side the wavefront probes are fitted on (a training size)."""
    probe_test_size: int = 31
    """Maze side the probes are tested on."""
    probe_fit_mazes: int = 48
    """Mazes the probes are fitted on."""
    probe_test_mazes: int = 12
    """Mazes the probes are tested on."""
    curve_points: int = 8
    """Snapshots of the main model during training, evaluated for the emergence curve."""
    curve_size: int = 31
    """Maze side of the emergence curve's success figures."""
    curve_episodes: int = 24
    """Held-out mazes per snapshot on the curve."""
    shifts: tuple[str, ...] = ("red-door/deploy", "red-door/blue-exit", "red-door/red-objects")
    """Distributions both nets are judged on as policies (as in the red-door experiment)."""
    shift_episodes: int = 200
    """Episodes per distribution in the shift assessment (11x11 red-door mazes)."""
    shift_per_side: float = 4.0
    """T per cell of maze side when the net acts as a policy in the shift assessment."""
    verdict: VerdictConfig = field(default_factory=VerdictConfig)
    """Thresholds of the alignment verdict."""
    seed: int = 0
    """Seed of the initial weights, training data, evaluation worlds and assessments."""

    @property
    def eval_sizes(self) -> tuple[int, ...]:
        """The evaluation sides, in the grid's order."""
        return tuple(side for side, _ in self.eval_grid)

    def validate(self) -> None:
        check(len(self.eval_grid) >= 1, "eval_grid", "must name at least one size")
        check(all(len(p) == 2 for p in self.eval_grid), "eval_grid", "pairs [side, mazes], e.g. [[11,200]]")
        for size in self.eval_sizes:
            check(size >= 5 and size % 2 == 1, "eval_grid", f"maze sides must be odd and >= 5, got {size}")
        check(len(set(self.eval_sizes)) == len(self.eval_sizes), "eval_grid", "a side is named twice")
        check(all(n >= 1 for _, n in self.eval_grid), "eval_grid", "every maze count must be >= 1")
        for name in ("probe_fit_size", "probe_test_size", "curve_size"):
            size = getattr(self, name)
            check(size >= 5 and size % 2 == 1, name, f"maze sides must be odd and >= 5, got {size}")
        check(len(self.per_side) >= 1, "per_side", "must give at least one factor")
        check(
            all(f > 0 for f in self.per_side),
            "per_side",
            f"factors must be positive (T >= 1), got {self.per_side}",
        )
        check(self.steps_per_side >= 1, "steps_per_side", f"must be >= 1, got {self.steps_per_side}")
        check(
            self.overthinking_factor >= 1,
            "overthinking_factor",
            f"must be >= 1, got {self.overthinking_factor}",
        )
        check(self.overthinking_episodes >= 1, "overthinking_episodes", "must be >= 1")
        if self.contrast_distribution:
            check_choice(self.contrast_distribution, "contrast_distribution", DISTRIBUTIONS.names())
        check(self.contrast_steps >= 1, "contrast_steps", f"must be >= 1, got {self.contrast_steps}")
        check(len(self.contrast_sizes) >= 1, "contrast_sizes", "must name at least one size")
        for size in self.contrast_sizes:
            check(size >= 5 and size % 2 == 1, "contrast_sizes", f"sides must be odd and >= 5, got {size}")
        for name in (
            "probe_fit_mazes",
            "probe_test_mazes",
            "curve_episodes",
            "shift_episodes",
            "contrast_batch_size",
        ):
            check(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        check(self.curve_points >= 0, "curve_points", f"must be >= 0, got {self.curve_points}")
        for name in self.shifts:
            check_choice(name, "shifts", DISTRIBUTIONS.names())
        check(self.shift_per_side > 0, "shift_per_side", f"must be positive, got {self.shift_per_side}")


QUICK = ThinkLongerConfig(
    model=RecurrentConfig(width=16, gate_kernel=1),
    train=MazeSupervisedConfig(sizes=(7, 9), steps=600, batch_size=16, num_layouts=256, checkpoint_every=100),
    contrast_steps=600,  # 100 left the contrast at 5% on its own mazes (verdicts meant nothing), 600 at 52%
    contrast_sizes=(7, 9),
    eval_grid=((9, 40), (15, 30), (21, 20)),
    per_side=(1.0, 2.0, 4.0),
    overthinking_max_size=15,
    overthinking_episodes=15,
    probe_fit_size=9,
    probe_test_size=15,
    probe_fit_mazes=16,
    probe_test_mazes=4,
    curve_points=3,
    curve_size=15,
    curve_episodes=12,
    shift_episodes=40,
)
"""The `--quick` preset: a small net trained briefly on 7x7 and 9x9 mazes, a small grid."""
