"""Fixed heuristics: gridworld policies that get somewhere without any search or value.

`WallFollower` keeps a hand on the wall (the left-hand rule): in a perfect maze it walks
every corridor in depth-first order and so reaches the exit, without a goal, a value or a
plan. `RedGradient` steps along a local, wall-blind red signal: it goes to red things that
lie roughly straight ahead and gets stuck behind walls, because it never plans around them.
`GreedyManhattan` takes the open move that most shortens the straight-line (Manhattan)
distance to a goal channel: it knows where the goal is but not the maze, so it walks into
dead ends and turns back and forth there. All three are non-optimizers for the zoo; all
read only the symbolic observation (`mesalab.envs.gridworld.CHANNELS`) and return action
logits `(B, 4)`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mesalab.config import check, check_choice
from mesalab.envs.gridworld.observations import CHANNELS
from mesalab.envs.gridworld.oracle import MOVES
from mesalab.envs.gridworld.spec import COLOURS
from mesalab.hooks import HookedModule, HookPoint
from mesalab.models.scripted import BLOCKED_LOGIT


def _agent_and_open(obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Agent cell `(B,)`, which moves are open `(B, 4)` and the move deltas `(4,)`, flat indices."""
    size = obs.shape[-1]
    walls = F.pad(obs[:, CHANNELS.index("wall")] > 0.5, (1, 1, 1, 1), value=True).flatten(1)
    agent_map = F.pad(obs[:, CHANNELS.index("agent")], (1, 1, 1, 1)).flatten(1)
    agent = agent_map.argmax(1)  # flat index in the padded grid, so the border reads as wall
    deltas = torch.tensor([dr * (size + 2) + dc for dr, dc in MOVES], device=obs.device)
    open_ = ~walls.gather(1, agent[:, None] + deltas[None])
    return agent, open_, deltas


class WallFollower(HookedModule):
    """The left-hand (or right-hand) rule: turn left if you can, else straight, else right, else back.

    The rule needs a heading, which the observation does not show, so the follower keeps
    one per batch row between calls: the move it chose last. A row continues with that
    heading only where the agent now stands exactly where that move led; anywhere else (a
    new episode, a different batch, the same observation again) the row starts fresh with
    the heading of the first open move in action order (up, right, down, left). So
    `mesalab.shift.assess`, which calls the policy once per step on the whole batch, sees a
    wall follower; a call on unrelated observations is a function of each observation alone.
    `reset()` forgets all headings. Hooks: `hook_open` `(B, 4)` (1 where the move is open),
    `hook_logits`.
    """

    def __init__(self, hand: str = "left") -> None:
        super().__init__()
        check_choice(hand, "hand", ("left", "right"))
        self.hand = hand
        turn = 3 if hand == "left" else 1  # left of heading h is (h + 3) % 4: actions go clockwise
        self.turns = (turn, 0, (turn + 2) % 4, 2)  # preferred, then straight, the other side, back
        self._heading: torch.Tensor | None = None
        self._expected: torch.Tensor | None = None
        self.hook_open = HookPoint()
        self.hook_logits = HookPoint()
        self.setup_hooks()

    def reset(self) -> None:
        """Forget every row's heading."""
        self._heading = self._expected = None

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """`(B, 8, H, W)` symbolic observations -> `(B, 4)` logits: 0 for the chosen move, -30 else."""
        agent, open_, deltas = _agent_and_open(obs)
        open_ = self.hook_open(open_.to(obs.dtype)) > 0.5
        fresh = open_.long().argmax(1)  # the first open move
        heading = fresh
        if self._heading is not None and self._expected is not None and self._heading.shape == fresh.shape:
            same = self._expected.to(agent.device) == agent
            heading = torch.where(same, self._heading.to(agent.device), fresh)
        turns = torch.tensor(self.turns, device=obs.device)
        candidates = (heading[:, None] + turns[None]) % 4  # (B, 4) moves in order of preference
        usable = open_.gather(1, candidates)
        first = usable.long().argmax(1)  # the first usable candidate (0 if none: a sealed cell)
        choice = candidates.gather(1, first[:, None]).squeeze(1)
        self._heading = choice
        self._expected = torch.where(usable.any(1), agent + deltas[choice], -1)
        logits = torch.full(open_.shape, BLOCKED_LOGIT, device=obs.device)
        logits.scatter_(1, choice[:, None], 0.0)
        return self.hook_logits(logits)


class RedGradient(HookedModule):
    """Steps up a local, wall-blind gradient of a colour; no planning, no value, no memory.

    The signal at a cell is `sum decay ** |c - cell|_1` over the cells `c` of `colour`
    within `radius` (Manhattan), computed through walls (a fixed convolution of the colour
    channel). Among the open moves the policy prefers the one whose cell has the most
    signal; logits are `gain * (signal ahead - signal here)`, moves into walls -30. With
    no colour in range all open moves tie. Hooks: `hook_signal` `(B, H, W)`, `hook_logits`.
    """

    kernel: torch.Tensor

    def __init__(self, colour: str = "red", radius: int = 4, decay: float = 0.5, gain: float = 10.0) -> None:
        super().__init__()
        check_choice(colour, "colour", COLOURS)
        check(radius >= 1, "radius", f"must be at least 1, got {radius}")
        check(0.0 < decay < 1.0, "decay", f"must be in (0, 1), got {decay}")
        self.colour, self.radius, self.gain = colour, radius, float(gain)
        offsets = torch.arange(-radius, radius + 1).abs()
        manhattan = offsets[:, None] + offsets[None, :]
        kernel = torch.where(manhattan <= radius, decay ** manhattan.double(), 0.0).float()
        self.register_buffer("kernel", kernel[None, None])  # (1, 1, 2r+1, 2r+1)
        self.hook_signal = HookPoint()
        self.hook_logits = HookPoint()
        self.setup_hooks()

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """`(B, 8, H, W)` symbolic observations -> `(B, 4)` action logits."""
        colour = obs[:, CHANNELS.index(self.colour)][:, None]
        signal = self.hook_signal(F.conv2d(colour, self.kernel.to(obs.dtype), padding=self.radius)[:, 0])
        agent, open_, deltas = _agent_and_open(obs)
        padded = F.pad(signal, (1, 1, 1, 1)).flatten(1)
        here = padded.gather(1, agent[:, None])
        ahead = padded.gather(1, agent[:, None] + deltas[None])
        logits = torch.where(open_, self.gain * (ahead - here), BLOCKED_LOGIT)
        return self.hook_logits(logits)


class GreedyManhattan(HookedModule):
    """One greedy step towards a goal channel by Manhattan distance, blind to the maze beyond.

    The score of a cell is minus its Manhattan distance to the nearest cell of `goal`
    (a channel of `CHANNELS`, the door by default). Logits are `score ahead - score here`
    for the open moves (+1 closer, -1 further) and -30 for moves into walls; with no goal
    cell in the observation every open move ties. No search, no value over the maze: in a
    corridor that bends away from the goal it stops and steps back and forth. Hooks:
    `hook_score` `(B, H, W)`, `hook_logits`.
    """

    def __init__(self, goal: str = "door") -> None:
        super().__init__()
        check_choice(goal, "goal", CHANNELS)
        self.goal = goal
        self.hook_score = HookPoint()
        self.hook_logits = HookPoint()
        self.setup_hooks()

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """`(B, 8, H, W)` symbolic observations -> `(B, 4)` action logits."""
        height, width = obs.shape[-2:]
        goal = obs[:, CHANNELS.index(self.goal)].flatten(1) > 0.5  # (B, H*W)
        rows = torch.arange(height, device=obs.device).repeat_interleave(width)
        cols = torch.arange(width, device=obs.device).repeat(height)
        manhattan = (rows[:, None] - rows[None]).abs() + (cols[:, None] - cols[None]).abs()  # (HW, HW)
        far = float(height + width)
        nearest = torch.where(goal[:, None, :], manhattan[None].to(obs.dtype), far).amin(2)  # (B, HW)
        score = self.hook_score(-nearest.view(-1, height, width))
        agent, open_, deltas = _agent_and_open(obs)
        padded = F.pad(score, (1, 1, 1, 1), value=-far).flatten(1)
        here = padded.gather(1, agent[:, None])
        ahead = padded.gather(1, agent[:, None] + deltas[None])
        logits = torch.where(open_, ahead - here, BLOCKED_LOGIT)
        return self.hook_logits(logits)
